"""The notice of main reasons for one person's decision, from a finished audit bundle.

``audit explain BUNDLE --id ROW`` calls :func:`render_notice`. It reads only the
bundle's ``decisions.parquet`` (one row per decision: id, decision, score,
``reason_1..k``, ``shap:<feature>``, and ``recourse`` when the counterfactual
check ran) and ``audit.json`` (system name, version, provider, audit date and
how the reasons were computed). Nothing is recomputed: the notice says what the
audit recorded.

Text goes to a terminal; ``fmt="pdf"`` prints one A4 page with WeasyPrint
(imported only then) from ``templates/notice.html.j2``.

In the person's terms (issue 15, item 5): columns and coded values are named by the spec's code book
(``data.code_book``, kept in audit.json ``run.code_book``); a contribution is stated in percentage points of the
score when the score is a probability (the change of the score if that one detail's contribution were removed,
holding the others: an approximation, said as "about"), never in log-odds; a protected attribute given as a reason
says that the model uses it and that the audit reports this; a proposed change to a value the code book marks as
not a choice is not offered; the contact and how to ask for human review come from ``system.contact``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from audit.errors import (
    BUNDLE_FILE_MISSING,
    DECISION_ID_NOT_FOUND,
    DECISION_NOT_IN_SAMPLE,
    DECISIONS_FILE_LEFT_OUT,
    AuditInputError,
)

__all__ = ["Notice", "load_notice", "notice_text", "render_notice", "CONTEST_SENTENCE", "TEMPLATES_DIR"]

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
CONTEST_SENTENCE = (
    "You have the right to ask for this decision to be reviewed by a person, to give your point of view, "
    "and to contest it. Contact {provider} and quote the reference {id}."
)
CONTACT_SENTENCE = (
    "You have the right to ask for this decision to be reviewed by a person, to give your point of view, "
    "and to contest it. {human_review} Contact: {name}, {address}. Quote the reference {id}."
)
PROTECTED_NOTE = ("The model uses {name}, a protected characteristic; that it does is itself a finding of the audit "
                  "of this system.")
NOT_A_CHOICE = ("The change the audit computed would need {name} to become “{value}”, which is not a choice a person "
                "can make; no other change was computed for this decision.")
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
    contact: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)  # protected attributes used, a change that is not a choice

    @property
    def outcome(self) -> str:
        """The decision in plain words, following the direction the audit declared."""
        if self.positive == self.favourable:  # the positive decision is the favourable one
            return "positive decision (in your favour)" if self.favourable else "negative decision (not in your favour)"
        return "not flagged (in your favour)" if self.favourable else "flagged (a decision against you)"

    @property
    def contest(self) -> str:
        """How to ask for human review or contest the decision: the spec's contact, else the provider's name."""
        if self.contact:
            review = self.contact["human_review"].rstrip(".") + "."
            return CONTACT_SENTENCE.format(human_review=review, name=self.contact["name"],
                                           address=self.contact["address"], id=self.id)
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
        scale = _scale_record(path.parent)
        if scale is not None:
            raise AuditInputError(DECISION_NOT_IN_SAMPLE, path=path, id=decision_id, count=f"{table.num_rows:,}",
                                  rows=f"{int(scale['rows']):,}")
        examples = ", ".join(str(v) for v in ids.slice(0, 3).to_pylist())
        raise AuditInputError(DECISION_ID_NOT_FOUND, path=path, id=decision_id, count=f"{table.num_rows:,}", examples=examples)
    return hits.slice(0, 1).to_pylist()[0]


def _scale_record(bundle_dir: Path) -> dict[str, Any] | None:
    """audit.json's run.scale when the bundle comes from a partitioned audit (decisions.parquet holds its sample)."""
    try:
        record = json.loads((bundle_dir / "audit.json").read_text(encoding="utf-8")).get("run", {}).get("scale")
    except (OSError, ValueError, AttributeError):  # no readable audit.json: the plain message, not a second error
        return None
    return record if isinstance(record, dict) else None


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


@dataclass
class _Words:
    """The code book and what the notice needs to word a contribution."""

    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    not_choices: dict[str, list[str]]
    protected: set[str]

    def name(self, feature: str) -> str:
        return self.columns.get(feature, feature.replace("_", " "))

    def value(self, feature: str, value: object) -> str:
        text = str(value)
        return self.values.get(feature, {}).get(text, text)


def _points(score: float | None, contribution: float, space: object) -> float | None:
    """The score's change, in percentage points, if this one contribution were removed (others held)."""
    import math

    if score is None or not 0.0 < score < 1.0:
        return None
    if space == "probability":
        return 100.0 * contribution
    if space == "log-odds":
        logit = math.log(score / (1.0 - score))
        return 100.0 * (score - 1.0 / (1.0 + math.exp(-(logit - contribution))))
    return None


def _sentence(words: _Words, feature: str, value: object, contribution: float, points: float | None) -> str:
    verb = "raised" if contribution > 0 else "lowered"
    amount = (f" by about {abs(points):.0f} percentage point{'s' if round(abs(points)) != 1 else ''}"
              if points is not None and round(abs(points)) >= 1 else
              " slightly" if points is not None else "")
    shown = f"{words.name(feature)}: {words.value(feature, value)}" if value is not None else words.name(feature)
    return f"{shown} — {verb} your score{amount}"


def _recourse(text: str, words: _Words) -> tuple[str | None, str | None]:
    """The recorded change in the person's terms, or (None, why) when it needs a value that is not a choice."""
    parts = []
    for change in text.split("; "):
        feature, sep, rest = change.partition(": ")
        before, arrow, after = rest.partition(" → ")
        if not sep or not arrow:
            parts.append(change)
            continue
        if after in words.not_choices.get(feature, []):
            return None, NOT_A_CHOICE.format(name=words.name(feature), value=words.value(feature, after))
        parts.append(f"{words.name(feature)}: {words.value(feature, before)} → {words.value(feature, after)}")
    return "; ".join(parts), None


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
    local: dict[str, Any] = next((e for e in audit.get("evidence", []) if e.get("id") == "local.shap"), {})
    metrics: dict[str, Any] = local.get("metrics", {}) if isinstance(local, dict) else {}
    space = metrics.get("output_space")
    book = audit.get("run", {}).get("code_book") or {}
    protected = audit.get("subject", {}).get("protected") or []
    words = _Words(columns=dict(book.get("columns") or {}), values=dict(book.get("values") or {}),
                   not_choices=dict(book.get("not_choices") or {}),
                   protected={p if isinstance(p, str) else str(p.get("column")) for p in protected})
    score_value = row.get("score")
    score = None if score_value is None else float(score_value)
    probability = score if score is not None and 0.0 <= score <= 1.0 else None
    contributions = {k[5:]: float(v) for k, v in row.items() if k.startswith("shap:") and v is not None}
    numbers = sorted((k for k in row if re.fullmatch(r"reason_\d+", k)), key=lambda k: int(k[7:]))
    reasons: list[str] = []
    notes: list[str] = []
    for key in numbers:
        feature = row.get(f"{key}_feature")
        if feature is None or feature not in contributions:  # a bundle without reasons as data: its recorded text
            if row[key] is not None and str(row[key]).strip():
                reasons.append(str(row[key]))
            continue
        c = contributions[feature]
        reasons.append(_sentence(words, feature, row.get(f"{key}_value"), c, _points(probability, c, space)))
        if feature in words.protected:
            notes.append(PROTECTED_NOTE.format(name=words.name(feature)))
    against = sorted(((v, f) for f, v in contributions.items() if (v < 0 if positive else v > 0)),
                     key=lambda t: -abs(t[0]))[:OTHER_FACTORS]
    other_way = [_sentence(words, f, None, v, _points(probability, v, space)) for v, f in against]
    units = ("Amounts are percentage points of the score: about how much lower or higher the score would be without "
             "that detail, the others unchanged." if probability is not None and space in ("log-odds", "probability")
             else "Reasons are listed from the most important; their size is in the audit's records.")
    system = audit.get("system", {})
    recourse_text = row.get("recourse")
    recourse, why_not = (_recourse(str(recourse_text), words) if recourse_text not in (None, "") else (None, None))
    if why_not:
        notes.append(why_not)
    contact = system.get("contact") if isinstance(system.get("contact"), dict) else None
    return Notice(
        id=str(row["id"]), favourable=favourable, positive=positive, score=score, reasons=reasons,
        other_way=other_way, recourse=recourse,
        system=str(system.get("name", "")), version=str(system.get("version", "")),
        provider=str(system.get("provider", "")), audit_date=str(audit.get("audit_date", "")),
        method=str(metrics.get("method") or local.get("method") or "SHAP"), units=units,
        contact={k: str(v) for k, v in contact.items() if v is not None} if contact else None, notes=notes,
    )


def notice_text(notice: Notice) -> str:
    """The notice as plain text for a terminal."""
    score = (f" (score {100 * notice.score:.0f} %)" if notice.score is not None and 0 <= notice.score <= 1
             else f" (score {notice.score:g})" if notice.score is not None else "")
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
    if notice.notes:
        lines += ["", *notice.notes]
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
    The PDF goes to ``out``, by default ``notice-<id>.pdf`` beside the bundle folder (never into the sealed
    bundle, which its manifest would then no longer match).
    """
    notice = load_notice(bundle_dir=Path(bundle_dir), decision_id=decision_id)
    if fmt == "text":
        text = notice_text(notice)
        if out is not None:
            Path(out).write_text(text, encoding="utf-8")
        return text
    from audit.report.pdf import write_pdf

    name = f"notice-{Path(bundle_dir).name}-{re.sub(r'[^A-Za-z0-9_.-]', '_', notice.id)}.pdf"
    target = Path(out) if out is not None else Path(bundle_dir).resolve().parent / name
    return write_pdf(_notice_html(notice), target)
