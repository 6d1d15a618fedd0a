"""The notice of main reasons for one person's decision, from a finished audit bundle.

``audit explain BUNDLE --id ROW`` calls :func:`render_notice`. It reads only the
bundle's ``decisions.parquet`` (one row per decision: id, decision, score,
``reason_1..k``, ``shap:<feature>``, and ``recourse`` when the counterfactual
check ran) and ``audit.json`` (system name, version, provider, audit date and
how the reasons were computed). Nothing is recomputed: the notice says what the
audit recorded.

Text goes to a terminal; ``fmt="pdf"`` prints one A4 page with WeasyPrint
(imported only then) from ``templates/notice.html.j2``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from audit.errors import BUNDLE_FILE_MISSING, DECISION_ID_NOT_FOUND, DECISIONS_FILE_LEFT_OUT, AuditInputError

__all__ = ["Notice", "load_notice", "notice_text", "render_notice", "CONTEST_SENTENCE", "TEMPLATES_DIR"]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
CONTEST_SENTENCE = (
    "You have the right to ask for this decision to be reviewed by a person, to give your point of view, "
    "and to contest it. Contact {provider} and quote the reference {id}."
)
OTHER_FACTORS = 2


@dataclass
class Notice:
    """What a notice shows for one decision (all read from the bundle)."""

    id: str
    favourable: bool  # the decision favours the person (for a flag: there was no flag)
    positive: bool  # the decision was the positive one (for a flag: flagged)
    score: float | None
    reasons: list[str]
    other_way: list[str]  # the strongest contributions in the opposite direction, as text
    recourse: str | None
    system: str
    version: str
    provider: str
    audit_date: str
    method: str
    units: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """The decision in plain words, following the direction the audit declared."""
        if self.positive == self.favourable:  # the positive decision is the favourable one
            return "positive decision (in your favour)" if self.favourable else "negative decision (not in your favour)"
        return "not flagged (in your favour)" if self.favourable else "flagged (a decision against you)"

    @property
    def contest(self) -> str:
        """How to ask for human review or contest the decision."""
        return CONTEST_SENTENCE.format(provider=self.provider or "the organisation that made the decision", id=self.id)


def _read_row(path: Path, decision_id: str) -> dict[str, Any]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.is_file():
        raise AuditInputError(BUNDLE_FILE_MISSING, path=path, what="decisions.parquet")
    table = pq.read_table(path)
    ids = table.column("id").cast("string")
    hits = table.filter(pc.equal(ids, decision_id))
    if hits.num_rows == 0:
        examples = ", ".join(str(v) for v in ids.slice(0, 3).to_pylist())
        raise AuditInputError(DECISION_ID_NOT_FOUND, path=path, id=decision_id, count=f"{table.num_rows:,}", examples=examples)
    return hits.slice(0, 1).to_pylist()[0]


def _read_audit(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AuditInputError(BUNDLE_FILE_MISSING, path=path, what="audit.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _left_out_on_purpose(bundle_dir: Path) -> bool:
    """Whether the bundle's audit.json says decisions.parquet was left out (report.decisions_file: false)."""
    try:
        record = json.loads((bundle_dir / "audit.json").read_text(encoding="utf-8")).get("run", {}).get("personal_data")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(record, dict) and record.get("decisions_file") is False


def load_notice(*, bundle_dir: Path, decision_id: str) -> Notice:
    """Collect one decision's notice from ``decisions.parquet`` and ``audit.json`` of ``bundle_dir``.

    A bundle written with ``report.decisions_file: false`` holds no per-person data: the notice cannot be given.
    """
    if not (bundle_dir / "decisions.parquet").is_file() and _left_out_on_purpose(bundle_dir):
        raise AuditInputError(DECISIONS_FILE_LEFT_OUT, path=bundle_dir)
    row = _read_row(bundle_dir / "decisions.parquet", str(decision_id))
    audit = _read_audit(bundle_dir / "audit.json")
    positive = bool(row.get("decision"))
    direction = audit.get("subject", {}).get("favourable_decision", "positive")
    favourable = positive if direction == "positive" else not positive
    reasons = [str(row[k]) for k in sorted((k for k in row if re.fullmatch(r"reason_\d+", k)), key=lambda k: int(k[7:]))
               if row[k] is not None and str(row[k]).strip()]
    contributions = {k[5:]: float(v) for k, v in row.items() if k.startswith("shap:") and v is not None}
    against = sorted(((v, f) for f, v in contributions.items() if (v < 0 if positive else v > 0)),
                     key=lambda t: -abs(t[0]))[:OTHER_FACTORS]
    other_way = [f"{f} {'lowered' if v < 0 else 'raised'} the score by {abs(v):.2f}" for v, f in against]
    local: dict[str, Any] = next((e for e in audit.get("evidence", []) if e.get("id") == "local.shap"), {})
    metrics: dict[str, Any] = local.get("metrics", {}) if isinstance(local, dict) else {}
    space = metrics.get("output_space")
    units_by_space: dict[str | None, str] = {
        "log-odds": "Amounts are contributions to the model's score on its internal log-odds scale; together "
                    "with the model's starting point they add up exactly to the score.",
        "probability": "Amounts are contributions to the score (probability points); together with the model's "
                       "starting point they add up to the score."}
    units = units_by_space.get(
        space, "Amounts are contributions to the model's output; together with its starting point they add up to it.")
    system = audit.get("system", {})
    recourse = row.get("recourse")
    score = row.get("score")
    return Notice(
        id=str(row["id"]), favourable=favourable, positive=positive, score=None if score is None else float(score), reasons=reasons,
        other_way=other_way, recourse=str(recourse) if recourse not in (None, "") else None,
        system=str(system.get("name", "")), version=str(system.get("version", "")),
        provider=str(system.get("provider", "")), audit_date=str(audit.get("audit_date", "")),
        method=str(metrics.get("method") or local.get("method") or "SHAP"), units=units,
    )


def notice_text(notice: Notice) -> str:
    """The notice as plain text for a terminal."""
    score = f" (score {notice.score:.2f} on a scale from 0 to 1)" if notice.score is not None else ""
    lines = [
        f"Decision {notice.id} — {notice.system} {notice.version}".rstrip(),
        f"Outcome: {notice.outcome}{score}",
        "",
        "Main reasons, most important first:" if notice.reasons else "No reasons were recorded for this decision.",
        *[f"  {i}. {r}" for i, r in enumerate(notice.reasons, start=1)],
    ]
    if notice.other_way:
        lines += ["", "Details that worked the other way:", *[f"  - {t}" for t in notice.other_way]]
    if notice.recourse:
        lines += ["", f"What would change it: {notice.recourse}"]
    lines += ["", notice.contest, "",
              f"How the reasons were found: {notice.method}, from the model itself. {notice.units}",
              f"Audit date: {notice.audit_date}. Provider: {notice.provider}."]
    return "\n".join(lines) + "\n"


def _notice_html(notice: Notice) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, undefined=StrictUndefined)
    return env.get_template("notice.html.j2").render(notice=notice)


def render_notice(*, bundle_dir: Path, decision_id: str, fmt: Literal["text", "pdf"] = "text",
                  out: Path | None = None) -> str | Path:
    """The notice of one decision: text (returned, and written to ``out`` if given) or a one-page PDF (path returned).

    An unknown id raises :class:`~audit.errors.AuditInputError` with a one-line message.
    The PDF goes to ``out``, by default ``notice-<id>.pdf`` in the current folder (never
    into the sealed bundle).
    """
    notice = load_notice(bundle_dir=Path(bundle_dir), decision_id=decision_id)
    if fmt == "text":
        text = notice_text(notice)
        if out is not None:
            Path(out).write_text(text, encoding="utf-8")
        return text
    from audit.report.pdf import write_pdf

    target = Path(out) if out is not None else Path.cwd() / f"notice-{re.sub(r'[^A-Za-z0-9_.-]', '_', notice.id)}.pdf"
    return write_pdf(_notice_html(notice), target)
