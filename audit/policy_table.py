"""The requirement tables of policies/README.md, rendered from the policy packs.

Every requirement of every pack (:func:`audit.policies.available_packs`) becomes one
row: id, citation, dates of application, what triggers it, its evidence rules (each
threshold with its value and source, and whether it decides the requirement or is
only a reference) and the document its attestation expects. The text is built from
the validated models alone (:mod:`audit.policies`, :mod:`audit.thresholds`), so the
README cannot say what the packs do not.

``python -m audit.policy_table --write`` rewrites the generated section of
policies/README.md in place (between :data:`BEGIN_MARKER` and :data:`END_MARKER`);
``--check`` exits 1 with one line when the README is out of step with the packs;
with neither option the section is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from audit.errors import AuditInputError
from audit.policies import (
    ANNEX_III_NAMES,
    PRIMARY_METRIC_THRESHOLD,
    Applicability,
    AppliesFrom,
    Repeal,
    Requirement,
    Rule,
    Withdrawal,
    available_packs,
    load_pack,
)
from audit.thresholds import ThresholdDef, load_thresholds

__all__ = [
    "README",
    "BEGIN_MARKER",
    "END_MARKER",
    "describe_applies_from",
    "describe_trigger",
    "describe_rule",
    "describe_attestation",
    "render_pack",
    "render_tables",
    "generated_section",
    "replace_generated_section",
    "main",
]

README = Path(__file__).resolve().parents[1] / "policies" / "README.md"
BEGIN_MARKER = "<!-- BEGIN GENERATED TABLE (python -m audit.policy_table --write) -->"
END_MARKER = "<!-- END GENERATED TABLE -->"

_COLUMNS = ("id", "citation", "applies from", "trigger", "evidence rules", "attestation")
_OP_WORDS = {"is_true": "is true", "is_false": "is false", "present": "is measured"}
_PRIMARY_TEXT = "the fairness metric chosen for the system, its threshold (reference unless the user sets one)"
_DESCRIPTION = "The requirement tables of policies/README.md, rendered from the policy packs."
_ANNEX_III_POINT = re.compile(r"^(\d)([a-z])$")


def _cell(text: str) -> str:
    """One Markdown table cell: on one line, with ``|`` escaped."""
    return " ".join(text.split()).replace("|", r"\|")


def _date_events(repealed: Repeal | None, withdrawn: Withdrawal | None, original: dt.date | None) -> list[str]:
    parts = []
    if withdrawn is not None:
        text = f"withdrawn {withdrawn.date.isoformat()} by {withdrawn.by}"
        if withdrawn.replaced_by:
            text += f"; the duty is carried by {', '.join(withdrawn.replaced_by)}"
        parts.append(text)
    if repealed is not None:
        text = f"repealed {repealed.date.isoformat()} by {repealed.by}"
        if original is not None and repealed.date <= original:
            text += ", never in force"
        if repealed.replaced_by:
            text += f"; replaced by {', '.join(repealed.replaced_by)}"
        parts.append(text)
    return parts


def describe_applies_from(applies_from: AppliesFrom | None, repealed: Repeal | None = None,
                          withdrawn: Withdrawal | None = None) -> str:
    """The "applies from" cell: the original date, the amended one with what amended it, and any withdrawal or repeal.

    A repeal dated on or before the original date of application reads "never in force".
    """
    parts = []
    if applies_from is None:
        parts.append("not stated")
    elif applies_from.amended is not None:
        in_force = (f" (in force {applies_from.amendment_in_force.isoformat()})"
                    if applies_from.amendment_in_force is not None else "")
        parts.append(f"{applies_from.original.isoformat()}, amended to {applies_from.amended.isoformat()} by "
                     f"{applies_from.amended_by}{in_force}")
    else:
        parts.append(applies_from.original.isoformat())
    parts.extend(_date_events(repealed, withdrawn, applies_from.original if applies_from is not None else None))
    return "; ".join(parts)


def _annex_point(code: str) -> str:
    match = _ANNEX_III_POINT.match(code)
    return f"{match.group(1)}({match.group(2)})" if match else code


def _either(values: Sequence[str]) -> str:
    return " or ".join(values)


def _flag(value: bool, yes: str, no: str) -> str:
    return yes if value else no


def _conditions(applies: Applicability) -> list[str]:
    """One short phrase per condition that is set, in the model's field order."""
    out: list[str] = []
    for name in type(applies).model_fields:
        value = getattr(applies, name)
        if value is None or name == "note":
            continue
        phrase = _phrase(name, value)
        if phrase:
            out.append(phrase)
    return out


def _phrase(name: str, value: object) -> str:
    """A reader's words for one condition (a condition added to the model later is still shown, by its name)."""
    if name == "any_of" and isinstance(value, list):
        branches = []
        for branch in value:
            inner = _conditions(branch) if isinstance(branch, Applicability) else [str(branch)]
            text = " and ".join(inner) or "always"
            branches.append(f"({text})" if len(inner) > 1 else text)
        return "any of: " + " or ".join(branches)
    if isinstance(value, bool):
        words = {
            "high_risk": ("high-risk (Annex III)", "not high-risk"),
            "profiling": ("profiles natural persons", "does not profile natural persons"),
            "solely_automated": ("decisions solely automated", "decisions not solely automated"),
            "interacts_or_generates": ("interacts with people or generates content",
                                       "neither interacts with people nor generates content"),
            "provider_in_eu": ("provider established in the EU", "provider established outside the EU"),
            "consumer_report": ("a consumer report is used", "no consumer report is used"),
            "special_category": ("a protected attribute is a special category of data",
                                 "no protected attribute is a special category of data"),
            "public_body": ("deployer is a public body or provides public services",
                            "deployer is not a public body"),
        }
        yes, no = words.get(name, (f"{name}: yes", f"{name}: no"))
        return _flag(value, yes, no)
    if isinstance(value, list):
        items = [str(v) for v in value]
        if name == "jurisdictions":
            return f"used in {_either(items)}"
        if name == "annex_iii":
            if set(items) == set(ANNEX_III_NAMES) - {"none"}:
                return "any Annex III point"
            return f"Annex III point {_either([_annex_point(v) for v in items])}"
        if name == "domains":
            return f"domain {_either(items)}"
        if name == "not_domains":
            return f"domain not {_either(items)}"
        if name == "roles":
            return _either(items)
        if name == "use":
            return f"{_either(items)} tool"
        return f"{name}: {_either(items)}"
    return f"{name}: {value}"


def describe_trigger(applies: Applicability) -> str:
    """The "trigger" cell: every condition that is set, joined by "; " ("always" when none is)."""
    return "; ".join(_conditions(applies)) or "always"


def _threshold_text(threshold_id: str, requirement_id: str, thresholds: dict[str, ThresholdDef]) -> str:
    known = thresholds.get(threshold_id)
    if known is None:
        return f"threshold `{threshold_id}` (not in thresholds.yaml)"
    role = "decides" if requirement_id in known.binds else "reference only"
    return f"`{threshold_id}`, {role}; source: {known.source}"


def describe_rule(rule: Rule, requirement_id: str, thresholds: dict[str, ThresholdDef] | None = None) -> str:
    """One evidence rule: the metric, the comparison, and its threshold with value and source.

    A threshold "decides" where it binds this requirement (its ``binds`` names the id) and is
    "reference only" otherwise; ``is_true``, ``is_false`` and ``present`` have no threshold.
    """
    known = load_thresholds() if thresholds is None else thresholds
    metric = f"`{rule.evidence}.{rule.metric}`"
    if rule.threshold == PRIMARY_METRIC_THRESHOLD:
        text = f"{metric} meets {_PRIMARY_TEXT}"
    elif rule.threshold is not None:
        value = known[rule.threshold].value if rule.threshold in known else None
        shown = f" {value:g}" if value is not None else ""
        text = f"{metric} {rule.op}{shown} ({_threshold_text(rule.threshold, requirement_id, known)})"
    else:
        text = f"{metric} {_OP_WORDS.get(rule.op, rule.op)} (no threshold)"
    if rule.significance is not None:
        sig = rule.significance
        text += (f"; a shortfall with `{sig.p_value}` at or above {sig.alpha:g} is REVIEW, not FAIL "
                 f"({sig.source})")
    return text


def describe_attestation(req: Requirement) -> str:
    """The "attestation" cell: the document expected, or "none"."""
    return req.attestation.document if req.attestation is not None else "none"


def _rules_cell(req: Requirement, thresholds: dict[str, ThresholdDef]) -> str:
    lines = [_cell(describe_rule(rule, req.id, thresholds)) for rule in req.rules]
    if req.shows:
        lines.append(_cell(f"no rule: shown to the person who attests: {', '.join(f'`{s}`' for s in req.shows)}"))
    return "<br>".join(lines) if lines else "none"


def render_pack(name: str) -> str:
    """One pack's heading, table and readings of the law (Markdown)."""
    pack = load_pack(name)
    thresholds = load_thresholds()
    out = [f"### {_cell(pack.title)} (`{pack.pack}`)", "", f"Regime: {_cell(pack.regime)}.", "",
           "| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    for req in pack.requirements:
        cells = [f"`{req.id}`", _cell(req.citation),
                 _cell(describe_applies_from(req.applies_from, req.repealed, req.withdrawn)),
                 _cell(describe_trigger(req.applies)), _rules_cell(req, thresholds), _cell(describe_attestation(req))]
        out.append("| " + " | ".join(cells) + " |")
    readings = [req for req in pack.requirements if req.interpretation]
    if readings:
        out += ["", "Readings of the law:", ""]
        out += [f"- `{req.id}`: {' '.join((req.interpretation or '').split())}" for req in readings]
    return "\n".join(out)


def render_tables(packs: Sequence[str] | None = None) -> str:
    """The generated section: every pack (default: all, by name) in turn, ending with a newline."""
    names = list(packs) if packs is not None else available_packs()
    return "\n\n".join(render_pack(name) for name in names) + "\n"


def generated_section(text: str) -> str | None:
    """What lies between the markers of a README text (without them), or None when they are missing."""
    start, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        return None
    return text[start + len(BEGIN_MARKER):end].strip("\n") + "\n"


def replace_generated_section(text: str, section: str) -> str:
    """The README text with the section between the markers replaced (the markers must be there)."""
    start, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"markers not found: {BEGIN_MARKER} ... {END_MARKER}")
    return text[:start + len(BEGIN_MARKER)] + "\n\n" + section.strip("\n") + "\n\n" + text[end:]


def main(argv: Sequence[str] | None = None) -> int:
    """Print, write (``--write``) or check (``--check``) the generated section of policies/README.md."""
    parser = argparse.ArgumentParser(prog="python -m audit.policy_table", description=_DESCRIPTION)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the generated section of policies/README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when policies/README.md is out of step")
    parser.add_argument("--readme", type=Path, default=README, help="the README to write or check")
    args = parser.parse_args(argv)
    try:
        section = render_tables()
    except AuditInputError as exc:  # a pack or thresholds.yaml that does not validate: its one-line message
        print(str(exc).splitlines()[0], file=sys.stderr)
        return 2
    if not args.write and not args.check:
        sys.stdout.write(section)
        return 0
    if not args.readme.is_file():
        print(f"{args.readme}: not found", file=sys.stderr)
        return 2
    text = args.readme.read_text(encoding="utf-8")
    current = generated_section(text)
    if current is None:
        print(f"{args.readme}: the markers {BEGIN_MARKER} and {END_MARKER} are missing", file=sys.stderr)
        return 2
    if args.check:
        if current != section:
            print(f"{args.readme} is out of step with policies/*.yaml: run python -m audit.policy_table --write",
                  file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(replace_generated_section(text, section), encoding="utf-8")
    print(f"wrote the requirement tables of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
