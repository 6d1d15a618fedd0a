"""Per-decision explanation throughput on Adult (48,842 rows, the example one-hot + LightGBM pipeline).

Compares, on the same rows:

1. ours, end to end (``audit.explain.explain`` + reasons): transform, TreeSHAP, fold to the
   user's 11 columns, reason texts; default executor (in-process for this size);
2. ours on 2 local worker processes (2 chunks; worker start-up included, then warm);
3. ``shap.TreeExplainer`` called directly on the transformed (one-hot) matrix;
4. LightGBM's native TreeSHAP (``pred_contrib=True``) on the transformed matrix, 2 threads;
5. XGBoost's native ``pred_contribs`` on the same one-hot matrix, for a model of similar size
   trained here (200 trees, depth 5 = up to 32 leaves, like LightGBM's 31), 2 threads.

Each row reports seconds, rows per second and the largest additivity gap
(|sum of contributions + base - the model's raw output|) as a correctness check.

Run:   .venv/bin/python benchmarks/bench_explanations.py [--rows N] [--write benchmarks/results/explanations.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # threads are set per method below

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> str:
    """nproc, CPU model, load average, Python and library versions."""
    import lightgbm
    import shap
    import xgboost

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"{os.cpu_count()} cores (nproc), CPU: {cpu}; load average at start: {load}; Python {platform.python_version()}; "
            f"shap {shap.__version__}, lightgbm {lightgbm.__version__}, xgboost {xgboost.__version__}")


def timed(fn):
    """(result, seconds) of ``fn()``."""
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="explain only the first N rows (default: all 48,842)")
    parser.add_argument("--write", type=Path, default=None, help="also write the table as markdown to this file")
    parser.add_argument("--skip-shap", action="store_true", help="skip shap.TreeExplainer (the slowest, ~2 minutes)")
    args = parser.parse_args()

    import warnings

    from audit.explain import explain
    from audit.explain.reasons import principal_reasons
    from audit.explain.shap_values import import_shap
    from audit.spec import load_spec
    from audit.subject import load_subject

    header = machine()
    subject = load_subject(load_spec(ROOT / "examples" / "adult-hiring" / "audit.yaml"))
    X = subject.X if args.rows is None else subject.X.iloc[: args.rows]
    decision = subject.predictions.decision[: len(X)]
    pipeline = subject.model.estimator
    n = len(X)
    rows: list[tuple[str, float, float | None, str]] = []

    def ours(**kwargs):
        result = explain(model=subject.model, X=X, seed=7, **kwargs)
        principal_reasons(values=result.values, X=X[result.feature_names], decision=decision, top_k=4)
        return result

    result, seconds = timed(ours)
    rows.append((f"ours, end to end (transform + TreeSHAP + fold + reasons; {result.executor})", seconds,
                 float(result.additivity_error.max()), "11 original columns"))
    # explain() runs this size in-process (the shortcut shares work within a chunk); measure the pool too.
    from audit.explain.executor import ProcessExecutor
    from audit.explain.shap_values import explain_chunk, plan_explanation

    plan = plan_explanation(model=subject.model, X=X, seed=7)
    items = [(0, X.iloc[: (n + 1) // 2]), ((n + 1) // 2, X.iloc[(n + 1) // 2:])]

    def pooled():
        parts = ProcessExecutor(workers=2).map(explain_chunk, plan, items)
        values = np.concatenate([p[0] for p in parts])
        principal_reasons(values=values, X=X[plan.feature_names], decision=decision, top_k=4)
        return values, parts[0][1], np.concatenate([p[2] for p in parts])

    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # cold start: worker start-up counted
    (values, base, margin), seconds = timed(pooled)
    rows.append(("ours, 2 local processes, 2 chunks (cold: includes starting workers)", seconds,
                 float(np.abs(values.sum(1) + base - margin).max()), "11 original columns"))
    (values, base, margin), seconds = timed(pooled)
    rows.append(("ours, 2 local processes, 2 chunks (warm workers)", seconds,
                 float(np.abs(values.sum(1) + base - margin).max()), "11 original columns"))

    Z, t_transform = timed(lambda: np.ascontiguousarray(pipeline[:-1].transform(X), dtype=float))
    booster = pipeline[-1].booster_
    raw = booster.predict(Z, raw_score=True)
    contrib, seconds = timed(lambda: booster.predict(Z, pred_contrib=True, num_threads=2))
    rows.append(("LightGBM native pred_contrib, 2 threads (one-hot matrix)", seconds,
                 float(np.abs(contrib.sum(1) - raw).max()), f"{Z.shape[1]} encoded columns"))

    if not args.skip_shap:
        shap = import_shap()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = shap.TreeExplainer(pipeline[-1])
            values, seconds = timed(lambda: np.asarray(explainer.shap_values(Z, check_additivity=False)))
        base = float(np.atleast_1d(explainer.expected_value)[-1])
        rows.append(("shap.TreeExplainer directly (one-hot matrix, 1 thread)", seconds,
                     float(np.abs(values.reshape(n, -1).sum(1) + base - raw).max()), f"{Z.shape[1]} encoded columns"))

    import xgboost as xgb

    train = subject.frame["split"].to_numpy()[: n] == "train"
    labels = subject.y[: n].astype(int)
    model = xgb.XGBClassifier(n_estimators=200, max_depth=5, learning_rate=0.05, tree_method="hist", n_jobs=2,
                              random_state=7)
    model.fit(Z[train], labels[train])
    matrix = xgb.DMatrix(Z)
    xb = model.get_booster()
    xb.set_param({"nthread": 2})
    xraw = xb.predict(matrix, output_margin=True)
    xcontrib, seconds = timed(lambda: xb.predict(matrix, pred_contribs=True))
    rows.append(("XGBoost native pred_contribs, 2 threads (similar model, one-hot matrix)", seconds,
                 float(np.abs(xcontrib.sum(1) - xraw).max()), f"{Z.shape[1]} encoded columns"))

    native = next(s for name, s, _, _ in rows if name.startswith("LightGBM native"))
    lines = [
        f"# Per-decision explanation throughput on Adult ({n:,} rows)",
        "",
        f"Date: {dt.date.today().isoformat()}. Machine: {header}.",
        f"Command: `.venv/bin/python benchmarks/bench_explanations.py{' --rows ' + str(args.rows) if args.rows else ''}`."
        f" Transform of the {n:,} rows to the one-hot matrix: {t_transform:.2f} s (not included in rows 4-6).",
        "",
        "| method | seconds | rows/s | time vs LightGBM native | max additivity gap | explained in |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, seconds, gap, space in rows:
        gap_text = f"{gap:.1e}" if gap is not None else "—"
        lines.append(f"| {name} | {seconds:.2f} | {n / seconds:,.0f} | {seconds / native:.2f}x | {gap_text} | {space} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
