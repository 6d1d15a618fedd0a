"""`audit attestations BUNDLE`: a YAML form of every open attestation question of an audit (issue 15).

The form is written from the bundle's ``audit.json`` alone and is shaped as the spec's
``attestations_file`` (:func:`audit.spec.load_spec` reads it): a top-level ``attestations:``
mapping of requirement id -> ``answer``, ``by``, ``date``, ``document``, ``comment``.

Which questions: every finding whose attestation is unanswered (``finding.attestation`` is set
and its ``answer`` is None; the policy engine sets no attestation on an N/A finding). Such a
finding is REVIEW, or FAIL when a rule also failed: the question is open either way and is
listed, with what else keeps the requirement open. Answered questions are not repeated.
Requirements in force on the audit date come first, then those not yet in force (assessed for
readiness, counted apart, never deciding the verdict) under their own heading, each marked with
its date: their answers are what preparing for that date needs, and the spec takes them now.
Within each part, entries follow the audit's packs and findings in order.

Partial filling: every entry is written commented out. An entry counts only once a person
uncomments it, so the file is valid at every stage: as written it attests nothing, each
uncommented entry with answer, by and date is one answer, and an uncommented entry left empty
(``answer: null``) stops ``load_spec`` with a one-line error (the spec requires an answer), so an
unfilled question is never taken as answered nor silently dropped. A filled entry left commented
out only stays REVIEW, listed under open actions, which the report shows.

The default place is beside the bundle folder, never inside it: the bundle is sealed by its
manifest, and `audit verify` names any file added to it.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import yaml

from audit.errors import FILE_NOT_FOUND, AuditInputError
from audit.evidence import AuditResult, Finding, Status, read_audit_json

__all__ = [
    "TEMPLATE_NO_AUDIT_JSON",
    "TEMPLATE_AUDIT_JSON_UNREADABLE",
    "TEMPLATE_EXISTS",
    "TEMPLATE_IN_BUNDLE",
    "ENTRY_FIELDS",
    "open_attestations",
    "attestation_template",
    "default_template_path",
    "write_attestation_template",
]

TEMPLATE_NO_AUDIT_JSON = "{folder}: no audit.json in this folder; give the bundle folder `audit run` wrote"
TEMPLATE_AUDIT_JSON_UNREADABLE = "{path}: could not read the audit result: {problem}"
TEMPLATE_EXISTS = (
    "{path}: already exists and is never overwritten (it may hold answers); move it away or choose another path"
)
TEMPLATE_IN_BUNDLE = (
    "{path}: inside the sealed bundle {folder}, where an added file fails `audit verify`; write it outside the bundle"
)

#: The fields of one entry, as audit.spec.AttestationAnswer takes them.
ENTRY_FIELDS = ("answer", "by", "date", "document", "comment")
_HINTS = {"answer": '"yes" or "no", in quotes', "by": "name and function", "date": "YYYY-MM-DD",
          "document": "where the supporting document is", "comment": "optional"}
_WIDTH = 110


def open_attestations(result: AuditResult) -> list[Finding]:
    """The findings whose attestation question is unanswered: in force first, then by pack (the audit's order)."""
    found = [f for f in result.findings
             if f.status is not Status.NA and f.attestation is not None and f.attestation.answer is None]
    packs = list(dict.fromkeys(f.pack for f in result.findings))
    return sorted(found, key=lambda f: (not f.in_force, packs.index(f.pack)))  # stable: findings' order within


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _comment(label: str, text: str, indent: str = "  ") -> list[str]:
    """``# label: text`` wrapped into comment lines, continuation lines indented under the text."""
    first = f"{indent}# {label}: " if label else f"{indent}# "
    rest = f"{indent}#   "
    return textwrap.wrap(_one_line(text), width=_WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


def _key(requirement_id: str) -> str:
    """The id as a YAML mapping key (quoted only when YAML needs it)."""
    dumped = yaml.safe_dump({requirement_id: None}, default_flow_style=False, width=10**6)
    return dumped.rstrip("\n").removesuffix(" null")


def _who(f: Finding, system: dict[str, object]) -> str:
    role = str(system.get("role") or "")
    party = str(system.get("audited_party") or "")
    duty = party if role in ("auditor", "regulator") and party else role
    provider = str(system.get("provider") or "")
    org = f"the audited organisation, {provider}," if "provider" in duty and provider else "the audited organisation"
    text = f"the {f.bearer} (who bears the duty in the law): here {org} audited as {duty or 'its role'}"
    if role in ("auditor", "regulator"):
        text += f", not the {role} who ran this audit"
    return text


def _shown(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else repr(value)


def _why_open(f: Finding) -> str:
    other: list[str] = []
    for r in f.rules:
        name = f"{r.evidence}.{r.metric}"
        if r.status is Status.FAIL:
            other.append(f"{name} fails")
        elif r.status is Status.REVIEW:
            if r.observed is None:
                other.append(f"{name} was not measured")
            elif r.threshold_id is not None and not r.binding:
                other.append(f"{name} = {_shown(r.observed)} has no binding threshold (thresholds.{r.threshold_id})")
            else:
                other.append(f"{name} = {_shown(r.observed)} needs a person's review (see the report)")
    if "Whether this applies is undecided" in f.reason:
        other.append("whether it applies is undecided from the spec (see the report)")
    why = f"no answer is recorded (status {f.status.value})."
    if other:
        return why + " Also open, so an answer alone does not close it: " + "; ".join(other) + "."
    return why + ' It is the only open item: "yes" makes the requirement PASS, "no" makes it FAIL.'


def _entry(f: Finding, system: dict[str, object]) -> list[str]:
    a = f.attestation
    assert a is not None  # open_attestations keeps only findings with an open question
    lines = _comment("", f"---- {f.id} | {f.pack} | {f.title}")
    lines += _comment("Citation", f.citation)
    if not f.in_force:
        lines += _comment("In force", f"no, applies from {f.applies_from_note or f.applies_from or 'a later date'}: "
                                      "readiness only, the answer does not change the verdict")
    lines += _comment("Question", a.question)
    lines += _comment("Expected document", a.document or "(none named)")
    lines += _comment("Who answers", _who(f, system))
    lines += _comment("Open because", _why_open(f))
    lines.append(f"  # {_key(f.id)}")
    lines += [f"  #   {name}: null{' ' * (10 - len(name))}# {_HINTS[name]}" for name in ENTRY_FIELDS]
    return lines


def _header(result: AuditResult, found: list[Finding], bundle: str | None) -> list[str]:
    system = result.system
    name = _one_line(f"{system.get('name', '')} {system.get('version', '')}")
    in_force = sum(f.in_force for f in found)
    answered = [f.id for f in result.findings if f.attestation is not None and f.attestation.answer is not None]
    where = f" (bundle {bundle})" if bundle else ""
    lines = _comment("", f"Attestation answers for {name}, provider: {system.get('provider', '(not named)')}.", "")
    lines += _comment("", f"Open questions of the audit dated {result.audit_date}{where}: {len(found)}, "
                          f"{in_force} in force on that date and {len(found) - in_force} not yet in force "
                          "(readiness only).", "")
    if answered:
        lines += _comment("", "Answered already, so not repeated here: " + ", ".join(answered) + ".", "")
    lines += [
        "#",
        "# How to use this file:",
        '# 1. Every question below is commented out. For each one you can answer, remove the leading "# " from',
        '#    its six entry lines (from "# ID:" down to "#   comment: null") and fill in:',
        '#      answer    "yes" or "no", in quotes (unquoted, YAML reads yes/no as true/false, which is refused);',
        '#                "yes" means compliant: give it only when the expected document exists',
        "#      by        who answers, with their function",
        "#      date      the date of the answer, YYYY-MM-DD",
        "#      document  where the supporting document is (its reference); comment: optional",
        "# 2. Leave the questions you cannot answer yet commented out: they stay REVIEW and listed under open",
        "#    actions. An uncommented entry without answer, by and date stops the next run with an error, so",
        "#    nothing is ever attested by accident.",
        "# 3. In audit.yaml set  attestations_file: <path of this file>  (relative to audit.yaml) and run",
        "#    `audit run` again. Only one attestations_file is read, and answers under attestations: in",
        "#    audit.yaml take precedence: if audit.yaml already names a file, copy the filled entries into it.",
        "# Keep this file outside the bundle folder: a file added to a sealed bundle fails `audit verify`.",
        "",
    ]
    return lines


def attestation_template(result: AuditResult, *, bundle: str | None = None) -> str:
    """YAML text: a header (system, audit date, how to use) and ``attestations:`` with one commented-out entry per
    open question, each under comments giving the requirement, the question, the expected document, who answers and
    why it is open. ``bundle`` names the bundle folder in the header.

    As written, the text loads as ``{"attestations": None}``: no answer (see the module docstring).
    """
    found = open_attestations(result)
    lines = _header(result, found, bundle)
    lines.append("attestations:")
    if not found:
        lines.append("  # No open question: every attestation of this audit is answered.")
    parts = [(True, f"In force on the audit date, {result.audit_date}"),
             (False, f"Not yet in force on {result.audit_date}, assessed for readiness only")]
    for in_force, title in parts:
        group = [f for f in found if f.in_force is in_force]
        if not group:
            continue
        lines += ["", f"  # ======== {title}: {len(group)} question{'s' if len(group) > 1 else ''} ========"]
        for f in group:
            lines += ["", *_entry(f, result.system)]
    return "\n".join(lines) + "\n"


def default_template_path(bundle_dir: Path) -> Path:
    """``attestations-<bundle name>.yaml`` beside the bundle folder (never inside it: the manifest seals its files)."""
    folder = bundle_dir.resolve()
    return folder.parent / f"attestations-{folder.name}.yaml"


def write_attestation_template(bundle_dir: Path, out: Path | None = None) -> Path:
    """Write the attestation form of the bundle's audit.json to ``out`` (default :func:`default_template_path`).

    Raises AuditInputError (one line) when the bundle has no readable audit.json, when ``out`` already exists (an
    existing form may hold answers: never overwritten), when ``out`` lies inside the bundle folder or its folder
    does not exist.
    """
    bundle_dir = Path(bundle_dir)
    source = bundle_dir / "audit.json"
    if not source.is_file():
        raise AuditInputError(TEMPLATE_NO_AUDIT_JSON, folder=bundle_dir)
    target = Path(out) if out is not None else default_template_path(bundle_dir)
    if target.resolve().is_relative_to(bundle_dir.resolve()):
        raise AuditInputError(TEMPLATE_IN_BUNDLE, path=target, folder=bundle_dir)
    if target.exists() or target.is_symlink():
        raise AuditInputError(TEMPLATE_EXISTS, path=target)
    if not target.parent.is_dir():
        raise AuditInputError(FILE_NOT_FOUND, what="folder", path=target.parent, hint="create it or choose another path")
    try:
        result = read_audit_json(source)
    except ValueError as exc:  # not JSON, or not an audit result (pydantic's error is a ValueError)
        raise AuditInputError(TEMPLATE_AUDIT_JSON_UNREADABLE, path=source,
                              problem=_one_line(str(exc).splitlines()[0])) from None
    text = attestation_template(result, bundle=bundle_dir.resolve().name)
    try:
        with target.open("x", encoding="utf-8") as handle:  # "x": refuses a file created since the check above
            handle.write(text)
    except FileExistsError:
        raise AuditInputError(TEMPLATE_EXISTS, path=target) from None
    return target
