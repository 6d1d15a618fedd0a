"""The flat metrics table (metrics.csv): one row per figure, for spreadsheets and BI tools.

Each fairness evidence item carries its long-form rows as a table with exactly
:data:`LONG_COLUMNS`; :func:`metrics_rows` collects those tables from any list
of evidence and adds every evidence item's numeric headline metrics (with
empty attribute and group), so the CSV holds every number of the bundle that
has a name. The ``check`` column holds the evidence id (e.g.
``fairness.selection_rate``), which is unique where the check name is not.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from audit.evidence import Evidence, Scalar, Table, clean_number

__all__ = ["LONG_COLUMNS", "LONG_TABLE_TITLE", "long_row", "long_table", "metrics_rows", "write_metrics_csv", "fmt_ci"]

LONG_COLUMNS = ["check", "metric", "attribute", "group", "value", "ci_low", "ci_high", "n", "p_value"]
LONG_TABLE_TITLE = "All figures, one per row (as in metrics.csv)"


def long_row(
    *,
    check: str,
    metric: str,
    attribute: str = "",
    group: str = "",
    value: Any = None,
    ci_low: Any = None,
    ci_high: Any = None,
    n: Any = None,
    p_value: Any = None,
) -> dict[str, Scalar]:
    """One long-form row; numpy numbers become plain values and NaN becomes None."""
    return {
        "check": check,
        "metric": metric,
        "attribute": attribute,
        "group": group,
        "value": clean_number(value),
        "ci_low": clean_number(ci_low),
        "ci_high": clean_number(ci_high),
        "n": None if n is None else int(n),
        "p_value": clean_number(p_value),
    }


def long_table(rows: list[dict[str, Scalar]]) -> Table:
    """The long-form rows as an evidence table: kept in audit.json for metrics.csv, not printed in the report."""
    return Table.from_records(
        LONG_TABLE_TITLE,
        rows,
        columns=LONG_COLUMNS,
        note="Intervals are 95 % bootstrap percentile intervals; n is the denominator of the figure.",
        in_report=False,
    )


def metrics_rows(evidence: list[Evidence]) -> list[dict[str, Scalar]]:
    """Every named figure of the evidence in long form (check, metric, attribute, group, value, ci, n, p)."""
    rows: list[dict[str, Scalar]] = []
    for item in evidence:
        for key, value in item.metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                rows.append(long_row(check=item.id, metric=key, value=value))
        for table in item.tables:
            if table.columns == LONG_COLUMNS:
                rows.extend(table.records())
    return rows


def write_metrics_csv(evidence: list[Evidence], path: Path) -> int:
    """Write :func:`metrics_rows` as UTF-8 CSV (empty cell = not computed); returns the number of rows."""
    rows = metrics_rows(evidence)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LONG_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else _cell(row[k])) for k in LONG_COLUMNS})
    return len(rows)


def _cell(value: Scalar) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def fmt_ci(low: Any, high: Any, *, digits: int = 3) -> str | None:
    """An interval as text for reader tables, e.g. "0.312 – 0.355"; None if undefined."""
    low, high = clean_number(low), clean_number(high)
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return None
    return f"{low:.{digits}f} – {high:.{digits}f}"
