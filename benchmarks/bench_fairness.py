"""Benchmark of the fairness statistics on Adult (48,842 rows): is the bootstrap fast enough?

Target (issue 4): 1,000 bootstrap resamples over 48,842 rows, 2 attributes
(sex, race) and their intersection, in under 5 s on 2 cores.

Measured, each as the median of ``--repeats`` runs after one warm-up:
1. the bootstrap itself: breakdowns from the rows, cell counts, 1,000
   multinomial resamples, 95 % intervals of every rate and impact ratio;
2. the whole ``fairness.selection_rate`` evidence (tables, tests, chart data);
3. for comparison, a stratified row-index bootstrap of the same selection rates
   (index matrices in chunks of 100 resamples), the usual way to write it;
4. the whole fairness check (all four evidence items, proxies and consistency included).

Run from the repository root:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fairness.py [--repeats 5] [--write]
``--write`` writes benchmarks/results/fairness.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fairness.md"
TARGET_SECONDS = 5.0
RESAMPLES = 1000


def _timed(step: Callable[[], object], *, repeats: int) -> float:
    """Median wall time of ``repeats`` runs after one warm-up run."""
    step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write benchmarks/results/fairness.md")
    args = parser.parse_args()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    import numpy as np

    from audit.checks import CheckContext
    from audit.checks._selection import selection_evidence
    from audit.checks.fairness import run
    from audit.fairness.compare import compare
    from audit.fairness.groups import build_breakdowns
    from audit.spec import load_spec
    from audit.subject import load_subject

    spec = load_spec(ROOT / "examples" / "adult-hiring" / "audit.yaml")
    subject = load_subject(spec)
    two = subject.groups[["sex", "race"]]
    decision = subject.predictions.decision
    ctx = CheckContext(spec=spec, seed=spec.seed)

    def bootstrap_only() -> None:
        rng = ctx.rng(1)
        for breakdown in build_breakdowns(two, [["sex", "race"]]):
            c = compare(breakdown, decision=decision, y=None, resamples=RESAMPLES, rng=rng, min_size=30, min_share=0.02)
            c.rate_interval("selection_rate")
            reference = c.most("selection_rate")
            c.ratio_to("selection_rate", reference)

    def selection_only() -> None:
        small = dataclasses.replace(subject, groups=two)
        selection_evidence(small, ctx, build_breakdowns(two, [["sex", "race"]]))

    def row_bootstrap() -> None:
        rng = np.random.default_rng(1)
        for breakdown in build_breakdowns(two, [["sex", "race"]]):
            for g in range(breakdown.n_groups):
                members = decision[breakdown.codes == g]
                rates = np.concatenate(
                    [
                        members[rng.integers(0, len(members), size=(100, len(members)))].mean(axis=1)
                        for _ in range(RESAMPLES // 100)
                    ]
                )
                np.percentile(rates, [2.5, 97.5])

    def whole_check() -> None:
        run(subject, CheckContext(spec=spec, seed=spec.seed))

    load = os.getloadavg()[0]
    rows = [
        (
            "Bootstrap: sex, race, sex × race; 1,000 resamples; rate and impact-ratio intervals",
            _timed(bootstrap_only, repeats=args.repeats),
        ),
        (
            "`fairness.selection_rate` evidence (same breakdowns, tables, tests)",
            _timed(selection_only, repeats=args.repeats),
        ),
        (
            "For comparison: row-index bootstrap of the selection rates (chunks of 100)",
            _timed(row_bootstrap, repeats=max(1, args.repeats // 2)),
        ),
        (
            "Whole fairness check (4 evidence items, sex/race/age + sex × race, proxies, consistency)",
            _timed(whole_check, repeats=max(1, args.repeats // 2)),
        ),
    ]
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    lines = [
        "# Fairness statistics benchmark",
        "",
        f"- Date: {dt.date.today().isoformat()}",
        f"- Machine: {os.cpu_count()} cores (nproc), {_cpu_model()}; OMP_NUM_THREADS={threads}",
        f"- Python {platform.python_version()}, numpy {np.__version__}; load average at the start "
        f"{load:.2f} (a shared machine: other work was running)",
        f"- Data: examples/adult-hiring ({subject.n:,} rows); median of {args.repeats} runs after a warm-up",
        f"- Command: `OMP_NUM_THREADS={threads} .venv/bin/python benchmarks/bench_fairness.py "
        f"--repeats {args.repeats} --write`",
        f"- Target: bootstrap under {TARGET_SECONDS:g} s",
        "",
        "| What | Seconds |",
        "|---|---:|",
        *[f"| {what} | {seconds:.3f} |" for what, seconds in rows],
        "",
        f"Bootstrap target met: {'yes' if rows[0][1] < TARGET_SECONDS else 'NO'} "
        f"({rows[0][1]:.3f} s against {TARGET_SECONDS:g} s).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
