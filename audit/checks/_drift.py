"""Evidence ``data.drift``: how the audited data differs from a reference (AI Act Art. 10(3)-(4), Art. 72).

With ``data.reference`` (the training data, or the previous period's), per input feature: the population
stability index, a two-sample test (Kolmogorov-Smirnov for numbers, chi-squared for categories) and its
Benjamini-Hochberg adjusted p-value across the features (:mod:`audit.drift`); per protected attribute: each
group's share in both, and a chi-squared test of the shares, adjusted across the attributes. Nothing here
decides a requirement: the PSI conventions are rules of thumb and the tests say where the data moved, not
whether that matters; the figures are shown beside the data requirements for the person who attests them.
"""

from __future__ import annotations

import time

from audit.checks._base import CheckContext
from audit.checks._common import pct
from audit.drift import benjamini_hochberg, feature_drift, group_drift
from audit.evidence import Evidence, Table
from audit.subject import Subject

__all__ = ["drift_evidence", "DRIFT_ID", "DRIFT_TITLE", "NO_REFERENCE", "ALPHA"]

DRIFT_ID = "data.drift"
DRIFT_TITLE = "Drift from the reference data (Art. 10(3)-(4), Art. 72)"
NO_REFERENCE = "no reference dataset (data.reference: the training data or the previous period's)"
ALPHA = 0.05
METHOD = (
    "Reference: {reference} ({n_ref:,} rows); audited data: {n:,} rows. Numeric features: PSI over ten bins at the "
    "reference's deciles and the two-sample Kolmogorov-Smirnov test; categorical features: PSI over the categories "
    "and the chi-squared test of homogeneity (missing values are a category of their own). The p-values are "
    "adjusted across the features by Benjamini-Hochberg (false discovery rate {alpha:g}); a feature has drifted "
    "when its adjusted p-value is below {alpha:g}. Protected groups: each group's share in both data sets and a "
    "chi-squared test of the shares, adjusted across the attributes the same way."
)
LIMITS = [
    "A test says that the data moved, not whether the move matters for the model: with many rows tiny moves are "
    "significant; read the PSI and the shares beside the p-value.",
    "The Kolmogorov-Smirnov test is conservative on features with many tied values (counts, amounts that are "
    "mostly zero).",
    "PSI bands (0.1 moderate, 0.25 large) are industry conventions, not law; nothing here decides a requirement.",
]


def drift_evidence(subject: Subject, ctx: CheckContext) -> Evidence:
    """Per-feature and per-group drift from data.reference; not assessed without one."""
    reference = subject.reference
    if reference is None or subject.reference_groups is None:
        return Evidence.not_assessed(DRIFT_ID, "data", DRIFT_TITLE, NO_REFERENCE)
    started = time.perf_counter()
    features = [str(c) for c in subject.tabular_columns]
    numeric = [c for c in features if subject.feature_types[c] == "numeric"]
    categorical = [c for c in features if c not in numeric]
    found = feature_drift(reference=reference[features], current=subject.X[features], numeric=numeric,
                          categorical=categorical, alpha=ALPHA)
    shares = {str(a): group_drift(reference=subject.reference_groups[a], current=subject.groups[a])
              for a in subject.groups.columns}
    adjusted = dict(zip(shares, benjamini_hochberg([r.p_value for r in shares.values()]), strict=True))
    tested = [f for f in found.features if f.p_value is not None]
    drifted = [f.name for f in found.features if f.drifted]
    binned = [f for f in found.features if f.psi is not None]
    top_psi = max(binned, key=lambda f: f.psi or 0.0) if binned else None
    moves = [(a, g) for a, r in shares.items() for g in r.groups if g.difference is not None]
    top_move = max(moves, key=lambda m: abs(m[1].difference or 0.0)) if moves else None
    known = [p for p in adjusted.values() if p is not None]
    missing: dict[str, str] = {}
    if not features:
        missing |= dict.fromkeys(("max_psi", "max_psi_feature"), "no input column of values to compare")
    metrics = {
        "n_features_tested": len(tested),
        "n_drifted": len(drifted),
        "drifted_features": ", ".join(drifted) or None,
        "max_psi": top_psi.psi if top_psi else None,
        "max_psi_feature": top_psi.name if top_psi else None,
        "max_group_share_change": top_move[1].difference if top_move else None,
        "max_group_share_change_group": f"{top_move[0]}={top_move[1].group}" if top_move else None,
        "min_group_share_p_adjusted": min(known) if known else None,
        "n_reference": len(reference),
    }
    summary = (f"{len(drifted)} of {len(tested)} input features differ from the reference"
               + (f" ({', '.join(drifted[:5])}{' ...' if len(drifted) > 5 else ''})" if drifted else "")
               + (f"; the largest PSI is {top_psi.psi:.3f} ({top_psi.name})" if top_psi and top_psi.psi is not None
                  else "")
               + (f"; the largest change of a group's share is {top_move[1].difference:+.1%} "
                  f"({top_move[0]}={top_move[1].group})" if top_move and top_move[1].difference is not None else "")
               + ".")
    feature_rows = [{"feature": f.name, "kind": f.kind, "test": f.test, "PSI": f.psi, "statistic": f.statistic,
                     "p-value": f.p_value, "p (BH)": f.p_adjusted,
                     "drifted": "—" if f.drifted is None else ("yes" if f.drifted else "no"),
                     "missing (ref / now)": f"{pct(f.missing_reference)} / {pct(f.missing_current)}",
                     "note": f.reason or ""} for f in found.features]
    group_rows = [{"attribute": a, "group": g.group, "reference share": g.share_reference,
                   "current share": g.share_current, "change": g.difference, "n (ref / now)": f"{g.n_reference} / "
                   f"{g.n_current}", "p (BH) of the attribute": adjusted[a]} for a, r in shares.items() for g in r.groups]
    return Evidence(
        id=DRIFT_ID, check="data", title=DRIFT_TITLE, summary=summary, metrics=metrics, missing=missing,
        tables=[Table.from_records("Drift of each input feature", feature_rows),
                Table.from_records("Shares of protected groups", group_rows)],
        method=METHOD.format(reference=subject.spec.data.reference, n_ref=len(reference), n=subject.n, alpha=ALPHA),
        limits=[*LIMITS, *found.notes],
        params={"alpha": ALPHA, "bins": found.bins, "correction": found.correction,
                "reference": str(subject.spec.data.reference)},
        seconds=time.perf_counter() - started,
    )

