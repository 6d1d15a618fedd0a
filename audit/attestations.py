"""Open actions: what a person must still do before the report can be signed.

The report's open-actions list and the CLI read :func:`open_actions`. Each
action is a plain dict (JSON-ready) derived from the findings alone, so it can
be rebuilt from audit.json. Kinds, in the order they are listed:

- ``remediate``: the requirement FAILs (a rule broke its threshold, or an
  attestation was answered "no"); the action says which.
- ``attest``: an attestation question is unanswered; the action gives the
  question and the document expected, and where to record the answer
  (``attestations:`` in audit.yaml or the file ``attestations_file`` names).
- ``decide``: a figure was measured but no binding threshold decides it (only our
  reference value exists): the action gives the figure, the reference and the
  threshold id to set in audit.yaml with who set it — or a person judges it.
- ``evidence``: a rule could not be evaluated (evidence not produced, not
  assessed, or a metric missing); the action gives the reason.
- ``review``: a REVIEW finding with none of the above (e.g. whether the
  requirement applies could not be decided from the spec); the action gives
  the reason.

N/A and PASS findings yield no action. Requirements in force on the audit date
come before those assessed for readiness only.
"""

from __future__ import annotations

from typing import Any

from audit.evidence import Finding, Status

__all__ = ["ACTION_KINDS", "open_actions"]

ACTION_KINDS = ("remediate", "attest", "decide", "evidence", "review")


def _action(f: Finding, kind: str, action: str, **more: Any) -> dict[str, Any]:
    return {"kind": kind, "id": f.id, "pack": f.pack, "title": f.title, "citation": f.citation,
            "bearer": f.bearer, "status": f.status.value, "in_force": f.in_force, "applies_from": f.applies_from,
            "action": action, **more}


def _for_finding(f: Finding) -> list[dict[str, Any]]:
    if f.status in (Status.NA, Status.PASS):
        return []
    actions: list[dict[str, Any]] = []
    a = f.attestation
    if f.status is Status.FAIL:
        broken = [f"{r.metric} = {r.observed!r} (required {r.op} {r.threshold:g}; {r.threshold_source})"
                  for r in f.rules if r.status is Status.FAIL and r.threshold is not None]
        broken += [f"{r.metric} = {r.observed!r} (required: {r.op.replace('_', ' ')})"
                   for r in f.rules if r.status is Status.FAIL and r.threshold is None]
        if a is not None and a.answer == "no":
            broken.append(f"attested 'no' by {a.by} on {a.date}: {a.question}")
        actions.append(_action(f, "remediate", "Remediate or document the exception: " + "; ".join(broken),
                               failed=broken))
    if a is not None and a.answer is None:
        actions.append(_action(f, "attest", f"Answer: {a.question}", question=a.question, document=a.document,
                               record_in=f"attestations.{f.id} in audit.yaml (answer, by, date, document)"))
    for r in f.rules:
        if r.status is not Status.REVIEW:
            continue
        if r.observed is not None and r.threshold_id is not None and not r.binding:
            actions.append(_action(f, "decide", f"Decide on {r.metric} = {r.observed!r}: set thresholds.{r.threshold_id} "
                                   f"(value and set_by) in audit.yaml, or judge it against the reference "
                                   f"{r.op} {r.threshold:g} ({r.threshold_source})", evidence=r.evidence,
                                   metric=r.metric, threshold_id=r.threshold_id, note=r.note))
        elif r.observed is not None:
            actions.append(_action(f, "review", f"Judge {r.metric} = {r.observed!r}: {r.note}", evidence=r.evidence,
                                   metric=r.metric, note=r.note))
        else:
            actions.append(_action(f, "evidence", f"Provide evidence {r.evidence} ({r.metric}): {r.note}",
                                   evidence=r.evidence, metric=r.metric, note=r.note))
    if not actions:
        actions.append(_action(f, "review", f"Review: {f.reason}"))
    return actions


def open_actions(findings: list[Finding], *, kinds: tuple[str, ...] = ACTION_KINDS) -> list[dict[str, Any]]:
    """Every open action of these findings, remediations first, then attestations, evidence, reviews.

    Within a kind, requirements in force come first; otherwise the findings' order is kept.
    """
    unknown = set(kinds) - set(ACTION_KINDS)
    if unknown:
        raise ValueError(f"unknown action kind(s): {', '.join(sorted(unknown))} (known: {', '.join(ACTION_KINDS)})")
    actions = [item for f in findings for item in _for_finding(f) if item["kind"] in kinds]
    order = {kind: i for i, kind in enumerate(ACTION_KINDS)}
    return sorted(actions, key=lambda item: (order[item["kind"]], not item["in_force"]))
