"""Profile of the audit data (size, schema, missing values, duplicates, label balance) and its drift from a reference.

Evidence for AI Act Art. 10(2)(a)-(e) (data suitability) and 13(3)(b)(vi)
(input-data specification). Group-level bias examination is the fairness
check's `data.bias` evidence.
"""

from __future__ import annotations

import numpy as np

from audit.checks._base import CheckContext, Need
from audit.checks._drift import drift_evidence
from audit.evidence import Evidence, Table, clean_number
from audit.subject import Subject

__all__ = ["run", "NEEDS", "distribution_tables", "DISTRIBUTION_TITLES", "PERCENTILES"]

NEEDS: tuple[Need, ...] = ()  # the data alone


def run(subject: Subject, ctx: CheckContext) -> list[Evidence]:
    """One evidence item: the dataset profile and the model's input schema."""
    frame, X = subject.frame, subject.X
    missing = X.isna().mean()
    schema_rows = []
    for column in X.columns:
        values = X[column]
        kind = subject.feature_types[column]
        if kind == "text":  # a person's own words: never shown, only their size
            lengths = values.dropna().astype(str).str.count(r"\S+")
            observed = (f"free text, {lengths.median():.0f} words per row (median)" if len(lengths)
                        else "free text, every row empty")
        elif kind == "image" and subject.images is not None:  # file names may name people: only the format
            channels, height, width = subject.images.shape[1:]
            observed = f"image files, {width} x {height} pixels, {'grayscale' if channels == 1 else 'RGB'}"
        else:
            observed = (f"{values.min():g} to {values.max():g}" if kind == "numeric"
                        else ", ".join(map(str, values.dropna().value_counts().index[:4]))
                        + (" ..." if values.nunique() > 4 else ""))
        schema_rows.append({
            "feature": column, "type": kind, "distinct values": int(values.nunique()),
            "missing": float(missing[column]), "observed": observed,
            "immutable": "yes" if column in subject.immutable else "",
        })
    duplicates = int(frame.drop(columns=[subject.spec.data.id_column] if subject.spec.data.id_column else []).duplicated().sum())
    metrics = {
        "rows": len(frame),
        "features": X.shape[1],
        "protected_attributes": ", ".join(subject.groups.columns) or None,
        "missing_share": float(X.isna().to_numpy().mean()) if X.shape[1] else None,
        "columns_with_missing": int((missing > 0).sum()),
        "duplicate_rows": duplicates,
        "positive_label_rate": clean_number(subject.y.mean()) if subject.y is not None else None,
    }
    label_text = (f" {metrics['positive_label_rate']:.1%} of them have the positive outcome."
                  if subject.y is not None else " The data holds no ground-truth labels.")
    return [Evidence(
        id="data.profile", check="data", title="The audit data",
        summary=f"The audit covers {len(frame):,} decisions described by {X.shape[1]} features;{label_text}",
        metrics=metrics,
        tables=[Table.from_records("Input features (the model's input specification)", schema_rows),
                *distribution_tables(subject)],
        method="Read from the data file named in the spec; types declared in the spec or inferred "
               "(numeric columns are numeric, all others categorical).",
        limits=["Describes the audit data only; the training data is not examined unless it is the audit data.",
                "Duplicates are counted over all columns except the id."],
        params={"data_file": subject.data_path.name, "format": _format(subject.data_path.suffix)},
    ), drift_evidence(subject, ctx)]


#: Percentiles kept of each numeric input (0, 1, ..., 100) and categories of each categorical one, for `audit diff`.
PERCENTILES = np.arange(101)
MAX_CATEGORIES = 200
DISTRIBUTION_TITLES = ("Distribution of each numeric input (percentiles, for audit diff)",
                       "Distribution of each categorical input (counts, for audit diff)")


def distribution_tables(subject: Subject) -> list[Table]:
    """Each input's distribution, kept in audit.json (not drawn in the report) so that `audit diff` can measure
    drift between two audits' data: 101 percentiles of a numeric input, the count of each category (at most
    MAX_CATEGORIES, missing values as "(missing)") of a categorical one. Free text and images are left out."""
    numeric_rows, category_rows = [], []
    for column in subject.tabular_columns:
        values = subject.X[column]
        n, missing = int(values.notna().sum()), int(values.isna().sum())
        if subject.feature_types[str(column)] == "numeric":
            if n:
                qs = np.percentile(values.dropna().to_numpy(dtype=float), PERCENTILES)
                numeric_rows += [{"feature": str(column), "n": n, "missing": missing, "percentile": int(q),
                                  "value": float(v)} for q, v in zip(PERCENTILES, qs, strict=True)]
        else:
            counts = values.astype(object).where(values.notna(), "(missing)").astype(str).value_counts()
            category_rows += [{"feature": str(column), "category": str(k), "count": int(c)}
                              for k, c in counts.head(MAX_CATEGORIES).items()]
    return [Table.from_records(DISTRIBUTION_TITLES[0], numeric_rows,
                               columns=["feature", "n", "missing", "percentile", "value"], in_report=False),
            Table.from_records(DISTRIBUTION_TITLES[1], category_rows, columns=["feature", "category", "count"],
                               in_report=False)]


def _format(suffix: str) -> str:
    return "Parquet" if suffix.lower() in (".parquet", ".pq") else "CSV"


