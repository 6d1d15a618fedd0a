"""Token attributions for every decision of the text example, and the text checks around them (issue 13, benchmarks).

Data and model: examples/adult-cv-screening (4,000 GENERATED profiles from Adult rows; TF-IDF + logistic
regression, model.skops). Each step is timed on its own, in this process, after the subject is loaded:

- exact token attributions of all 4,000 decisions (coefficient x tf-idf; one transform, one sparse product);
- each decision's top-4 token reasons (the decisions.parquet column);
- ERASER comprehensiveness and sufficiency on 500 decisions (4 edited texts each, re-predicted);
- LIME's text explainer on 50 decisions (500 perturbed texts each);
- the term-swap flip test: every swap family and all at once over the 4,000 texts, re-predicted.

Printed: machine (nproc, lscpu model name), date, load average before and after, a table of seconds per step and
the figures computed (so a time is never read apart from what it computed). Nothing is written.

Run: .venv/bin/python benchmarks/bench_text_tokens.py
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult-cv-screening"


def main() -> None:
    from audit.checks._base import CheckContext
    from audit.checks._term_swap import term_swap
    from audit.explain.tokens import faithfulness, lime_agreement, token_attributions, top_tokens
    from audit.spec import load_spec
    from audit.subject import load_subject

    print(f"machine: {machine()}; date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing")
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "profiles.csv")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "audit.yaml"
        path.write_text(yaml.safe_dump(spec))
        subject = load_subject(load_spec(path))
    ctx = CheckContext(spec=subject.spec, seed=subject.spec.seed)
    decision = np.asarray(subject.predictions.decision, dtype=bool)
    rows: list[tuple[str, float, str]] = []

    started = time.perf_counter()
    found = token_attributions(subject.model, subject.X, "profile")
    if isinstance(found, str):
        raise SystemExit(found)
    rows.append((f"token attributions, {subject.n:,} decisions", time.perf_counter() - started,
                 f"{len(found.tokens)} tokens, additivity error {found.additivity_error.max():.1e}"))
    started = time.perf_counter()
    reasons = top_tokens(found, decision, k=4)
    rows.append(("top-4 token reasons", time.perf_counter() - started,
                 f"{sum(1 for r in reasons if r):,} decisions with a reason"))
    sample = np.sort(np.random.default_rng(611).choice(subject.n, size=500, replace=False))
    started = time.perf_counter()
    faith = faithfulness(model=subject.model, X=subject.X, column="profile", reasons=reasons, decision=decision,
                         rows=sample, seed=7, k=4)
    rows.append(("comprehensiveness and sufficiency, 500 decisions", time.perf_counter() - started,
                 f"comprehensiveness {faith.comprehensiveness:.3f} (random {faith.random_comprehensiveness:.3f})"))
    started = time.perf_counter()
    lime = lime_agreement(model=subject.model, X=subject.X, column="profile", reasons=reasons, decision=decision,
                          rows=sample[:50], seed=7, k=4, num_samples=500)
    rows.append(("LIME text explainer, 50 decisions x 500 texts", time.perf_counter() - started,
                 f"agreement {lime.agreement:.3f}"))
    started = time.perf_counter()
    swaps = term_swap(subject, column="profile", rng=ctx.rng(1), n_boot=1000)
    rows.append(("term-swap flip test, 4 families + all", time.perf_counter() - started,
                 f"flip rate (all) {swaps.max_rate:.4f}, {swaps.n_predicted:,} texts re-predicted"))

    print(f"{'step':52} {'seconds':>8}  figures")
    for name, seconds, figures in rows:
        print(f"{name:52} {seconds:8.2f}  {figures}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
