"""The diff bundle: diff.json, report.html and report.pdf (signed when the diff spec names a key), sealed.

The report reads :class:`~audit.compare.bundles.DiffResult` only: the verdict and its reasons, requirement
statuses that changed (first), the judged figures by group, the other shared figures, the settings. It holds
no individual's data: only rates and counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jinja2 import Environment, select_autoescape

from audit.compare.bundles import ALL, DiffResult
from audit.compare.spec import FIGURES, DiffSpec

__all__ = ["write_diff_bundle", "render_diff_html", "write_diff_junit"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Audit comparison: {{ r.new.system }}</title>
<style>
@page { size: A4; margin: 18mm 16mm; @bottom-right { content: "Page " counter(page) " of " counter(pages);
  font: 8pt "DejaVu Sans"; color: #555; } }
body { font: 9.5pt/1.4 "DejaVu Sans", sans-serif; color: #1f2933; }
h1 { font-size: 16pt; margin: 0 0 4mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm; break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; font-size: 8.5pt; }
thead { display: table-header-group; } tr { break-inside: avoid; }
th, td { border-bottom: 1px solid #d5d9de; padding: 1.2mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eef1f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-size: 13pt; font-weight: bold; padding: 2mm 3mm; display: inline-block; border: 2px solid; }
.FAIL { color: #a3261b; } .REVIEW { color: #8a5a00; } .PASS { color: #2f6b2f; }
.worse { color: #a3261b; font-weight: bold; } .inconclusive { color: #8a5a00; } .note { color: #555; }
</style></head><body>
<h1>Audit comparison: {{ r.new.system }}</h1>
<p>Baseline: version {{ r.baseline.version }}, audit of {{ r.baseline.audit_date }} (verdict {{ r.baseline.verdict }},
manifest SHA-256 {{ r.baseline.manifest_sha256[:16] }}…).<br>
New: version {{ r.new.version }}, audit of {{ r.new.audit_date }} (verdict {{ r.new.verdict }},
manifest SHA-256 {{ r.new.manifest_sha256[:16] }}…).<br>
Both bundles verified (every file's hash and the manifest signature) before comparison. Favourable decision:
{{ r.favourable_decision }}.</p>
<p><span class="verdict {{ r.verdict.value }}">{{ r.verdict.value }}</span></p>
<ul>{% for reason in r.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>

<h2>1. Requirement statuses that changed</h2>
{% if r.status_changes %}<table><thead><tr><th>requirement</th><th>title</th><th>baseline</th><th>new</th>
<th>in force</th></tr></thead><tbody>
{% for c in r.status_changes %}<tr><td>{{ c.id }}</td><td>{{ c.title }}</td><td class="{{ c.baseline }}">{{ c.baseline }}</td>
<td class="{{ c.new }}">{{ c.new }}</td><td>{{ "yes" if c.in_force else "not yet" }}</td></tr>{% endfor %}
</tbody></table>{% else %}<p>No requirement changed status.</p>{% endif %}

<h2>2. Figures by group, judged (new − baseline)</h2>
<p class="note">{{ figures_text }} Intervals are percentile bootstrap intervals of the difference
({{ r.settings.bootstrap }} resamples; paired when both audits decided on the same ids), Bonferroni-adjusted over
the groups of one attribute. "worse": the whole interval lies beyond the margin; "no worse": it lies within;
"inconclusive": neither. Groups with fewer than {{ r.settings.min_group_size }} people in either audit are shown
but not judged. A margin without "set by" is the reference value {{ r.settings.reference_margin }}: it informs
and never fails the comparison.</p>
{% for line in r.not_judged %}<p class="inconclusive">{{ line }}</p>{% endfor %}
{% if r.rows_note %}<p class="note">{{ r.rows_note }}</p>{% endif %}
<table><thead><tr><th>figure</th><th>margin</th><th>set by</th></tr></thead><tbody>
{% for name, m in margins %}<tr><td>{{ name }}</td><td class="num">{{ m[0] }}</td><td>{{ m[1] }}</td></tr>{% endfor %}
</tbody></table>
{% if r.comparisons %}<table><thead><tr><th>figure</th><th>group</th><th>baseline</th><th>new</th><th>difference</th>
<th>interval</th><th>paired</th><th>people (base / new)</th><th>judgement</th></tr></thead><tbody>
{% for c in r.comparisons %}<tr><td>{{ c.figure }}</td><td>{{ "everyone" if c.attribute == all else c.attribute ~ "=" ~ c.group }}</td>
<td class="num">{{ fmt(c.baseline_rate) }}</td><td class="num">{{ fmt(c.new_rate) }}</td>
<td class="num">{{ sgn(c.difference) }}</td>
<td class="num">{% if c.ci_low is not none %}{{ sgn(c.ci_low) }}&nbsp;…&nbsp;{{ sgn(c.ci_high) }} ({{ "%.1f"|format(100 * c.confidence) }}&nbsp;%){% else %}—{% endif %}</td>
<td>{{ "yes" if c.paired else "no" }}</td><td class="num">{{ c.baseline_members }} / {{ c.new_members }}</td>
<td class="{{ c.judgement.replace(' ', '-') }}">{{ c.judgement }}</td></tr>{% endfor %}
</tbody></table>{% endif %}

<h2>3. Other figures both audits hold (not judged)</h2>
<p class="note">These come from each audit.json; without the rows behind them there is no interval of their
difference, so they are shown, not judged.</p>
<table><thead><tr><th>evidence</th><th>figure</th><th>unit</th><th>baseline</th><th>new</th><th>difference</th></tr></thead>
<tbody>{% for f in r.other_figures %}<tr><td>{{ f.evidence }}</td><td>{{ f.metric }}</td><td>{{ f.unit }}</td>
<td class="num">{{ fmt(f.baseline) }}</td><td class="num">{{ fmt(f.new) }}</td><td class="num">{{ sgn(f.difference) }}</td></tr>{% endfor %}
</tbody></table>
<h2>4. Drift between the two audits' data (not judged)</h2>
{% if r.data_drift_note %}<p class="note">{{ r.data_drift_note }}</p>{% else %}
<p class="note">Per input, from the distributions each audit.json keeps: PSI and a two-sample test
(Kolmogorov-Smirnov for numbers, computed approximately from 101 percentiles of each; chi-squared for categories),
Benjamini-Hochberg across inputs. It shows where the data moved, not whether that matters.</p>
<table><thead><tr><th>input</th><th>kind</th><th>test</th><th>PSI</th><th>p (BH)</th><th>drifted</th></tr></thead>
<tbody>{% for d in r.data_drift %}<tr><td>{{ d.feature }}</td><td>{{ d.kind }}{% if d.approximate %} (approx.){% endif %}</td>
<td>{{ d.test }}</td><td class="num">{{ fmt(d.psi) }}</td><td class="num">{{ fmt(d.p_adjusted) }}</td>
<td>{{ "—" if d.drifted is none else ("yes" if d.drifted else "no") }}</td></tr>{% endfor %}</tbody></table>{% endif %}
<p class="note">Generated {{ generated_at }} by audit. diff.json holds every figure of this report.</p>
</body></html>
"""


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _sgn(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def render_diff_html(result: DiffResult, *, generated_at: str) -> str:
    """The diff report as one HTML page (no JavaScript, no external resources)."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    figures_text = " ".join(f"{name}: {meaning}; worse when {worse}." for name, (meaning, worse) in FIGURES.items())
    margins: dict[str, tuple[float, str]] = {}
    for c in result.comparisons:
        margins.setdefault(c.figure, (c.margin, c.margin_set_by or "reference value (informs, never fails)"))
    return env.from_string(_TEMPLATE).render(r=result, fmt=_fmt, sgn=_sgn, all=ALL, figures_text=figures_text,
                                            generated_at=generated_at, margins=sorted(margins.items()))


def write_diff_bundle(result: DiffResult, *, spec: DiffSpec, output: Path, now: dt.datetime) -> Path:
    """Write diff.json, report.html, report.pdf into a new folder under ``output`` and seal it; return the folder."""
    from audit.partials import writing_bundle
    from audit.preflight import slug
    from audit.report.pdf import write_pdf
    from audit.signing import seal_bundle, sign_pdf_in_place, write_manifest

    root = output / slug(result.new.system)
    root.mkdir(parents=True, exist_ok=True)
    with writing_bundle(root, f"diff-{now.strftime('%Y%m%dT%H%M%SZ')}") as folder:
        work = folder.work
        (work / "diff.json").write_text(result.model_dump_json(indent=2), encoding="utf-8")
        html = render_diff_html(result, generated_at=now.isoformat(timespec="seconds"))
        (work / "report.html").write_text(html, encoding="utf-8")
        write_pdf(html, work / "report.pdf")
        info = {"kind": "diff", "verdict": result.verdict.value, "generated_at": now.isoformat(timespec="seconds"),
                "baseline_manifest_sha256": result.baseline.manifest_sha256,
                "new_manifest_sha256": result.new.manifest_sha256}
        folder.drop_marker()
        if spec.signing is None:
            write_manifest(bundle_dir=work, info={**info, "signed": False})
        else:
            key, cert = spec.resolve(spec.signing.key), spec.resolve(spec.signing.certificate)
            sign_pdf_in_place(pdf=work / "report.pdf", key_path=key, cert_path=cert,
                              reason=f"Audit comparison of {result.new.system}")
            seal_bundle(bundle_dir=work, key_path=key, cert_path=cert, info=info)
    return folder.final


def write_diff_junit(result: DiffResult, path: Path) -> Path:
    """One JUnit test case per status change and judged figure: a failure where the diff FAILs on it.

    A figure worse than a reference margin, or inconclusive, is a passing case with its reason in system-out
    (as `audit run` treats REVIEW under --fail-on fail); "not judged" figures are skipped.
    """
    import xml.etree.ElementTree as ET

    suite = ET.Element("testsuite", name=f"audit diff: {result.new.system}")
    failures = 0
    for change in result.status_changes:
        case = ET.SubElement(suite, "testcase", classname="requirements", name=f"{change.id} {change.title}")
        if change.in_force and change.baseline == "PASS" and change.new == "FAIL":
            ET.SubElement(case, "failure", message=f"{change.id}: PASS in the baseline, FAIL in the new audit")
            failures += 1
    for c in result.comparisons:
        where = "everyone" if c.attribute == ALL else f"{c.attribute}={c.group}"
        case = ET.SubElement(suite, "testcase", classname=f"figures.{c.figure}", name=where)
        text = (f"{c.figure} for {where}: baseline {_fmt(c.baseline_rate)}, new {_fmt(c.new_rate)}, difference "
                f"{_sgn(c.difference)}, interval {_sgn(c.ci_low)} to {_sgn(c.ci_high)}, margin {c.margin:g}: "
                f"{c.judgement} ({c.reason})")
        if c.judgement == "worse" and c.margin_set_by is not None:
            ET.SubElement(case, "failure", message=text)
            failures += 1
        elif c.judgement == "not judged":
            ET.SubElement(case, "skipped", message=text)
        else:
            ET.SubElement(case, "system-out").text = text
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
