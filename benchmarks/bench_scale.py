"""A partitioned audit of many rows (issue 16): time, and peak memory of the `audit` process and of each worker.

Data: the Adult hiring example (examples/adult-hiring/adult.parquet) resampled with replacement, seed 16, to
``--rows`` rows, ids made unique (``P000000001``, ...), written row group by row group (250,000 rows each) to
``--data`` (kept between runs; the file is rewritten only when its row count differs). Nothing is held whole:
generation takes one row group at a time.

Each run: a Dask LocalCluster of ``--workers`` single-threaded worker processes (``--workers 0``: the spec's local
processes, no cluster), then `audit run` of the example's spec with ``scale:`` (partitions of 250,000 rows, sample
of 20,000) in a child process, with ``--scheduler`` pointing at the cluster. "partitions s": the first pass (counts
and sample); "flip test s": the flip test's pass over every row; "recourse s": the recourse check with its pass over
every adverse decision; "decisions s": writing decisions.parquet (the pass explaining every decision, with every
adverse decision's recourse text) and audit.json (from the manifest's timings). Peak resident memory is sampled every
0.2 s for the `audit` process (with its own children, when it runs local processes) and for each worker.

Run: .venv/bin/python benchmarks/bench_scale.py --rows 10000000 --workers 2 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from _machine import machine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adult-hiring"
GROUP_ROWS = 250_000


def make_data(path: Path, rows: int, *, seed: int = 16) -> None:
    """Adult resampled to ``rows`` rows, unique ids, one row group at a time."""
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    source = pq.read_table(EXAMPLE / "adult.parquet")
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, source.schema) as writer:
        for start in range(0, rows, GROUP_ROWS):
            n = min(GROUP_ROWS, rows - start)
            chunk = source.take(pa.array(rng.integers(0, source.num_rows, n)))
            ids = pa.array([f"P{i:09d}" for i in range(start + 1, start + n + 1)], type=source.schema.field("person_id").type)
            chunk = chunk.set_column(chunk.schema.get_field_index("person_id"), "person_id", ids)
            writer.write_table(chunk, row_group_size=GROUP_ROWS)


class PeakMemory:
    """Peak RSS of a process (and its children) and of other processes, sampled every 0.2 s in a thread."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self._watch: dict[str, tuple[int, bool]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name: str, pid: int, *, with_children: bool = False) -> None:
        self._watch[name] = (pid, with_children)

    def _rss(self, pid: int, with_children: bool) -> float:
        try:
            process = psutil.Process(pid)
            total = process.memory_info().rss
            if with_children:
                total += sum(c.memory_info().rss for c in process.children(recursive=True))
            return total / 2**30
        except psutil.Error:
            return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, (pid, children) in list(self._watch.items()):
                self.peaks[name] = max(self.peaks.get(name, 0.0), self._rss(pid, children))
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_once(data: Path, workers: int, out: Path) -> dict[str, object]:
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec.pop("signing", None)
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(data)
    spec["scale"] = {"partition_rows": GROUP_ROWS, "sample_rows": 20_000, "workers": max(workers, 1)}
    spec_path = out / "audit.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "audit", "run", str(spec_path), "--output", str(out / "reports"), "--no-history"]
    cluster = None
    if workers > 0:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               memory_limit="4GiB")
        command += ["--scheduler", cluster.scheduler_address]
    try:
        with PeakMemory() as memory:
            if cluster is not None:
                with Client(cluster) as client:
                    for address, pid in client.run(os.getpid).items():
                        memory.watch(f"worker {address.rsplit(':', 1)[-1]}", pid)
            start = time.perf_counter()
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            memory.watch("audit", child.pid, with_children=cluster is None)
            stdout, stderr = child.communicate()
            wall = time.perf_counter() - start
    finally:
        if cluster is not None:
            cluster.close()
    if child.returncode not in (0, 1):
        sys.exit(f"audit failed ({child.returncode}): {stderr.strip()[-2000:]}")
    bundle = next((out / "reports").glob("*/*/"))
    timings = json.loads((bundle / "manifest.json").read_text())["audit"]["timings"]
    result = json.loads((bundle / "audit.json").read_text())
    return {"wall": wall, "load": timings["load"], "flip": timings.get("evidence.counterfactual.flip", float("nan")),
            "recourse": timings.get("evidence.counterfactual.recourse", float("nan")),
            "decisions": timings.get("write", float("nan")),
            "peaks": memory.peaks, "rows": result["subject"]["rows"],
            "sample": result["subject"].get("sample_rows"), "verdict": result["verdict"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 1],
                        help="LocalCluster sizes to run (0 = the spec's local processes, no cluster)")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "audit-bench-scale")
    args = parser.parse_args()
    data = args.data / f"adult-{args.rows}.parquet"
    started = time.perf_counter()
    make_data(data, args.rows)
    print(f"data: {data} ({args.rows:,} rows, {data.stat().st_size / 2**20:,.0f} MiB; ready in "
          f"{time.perf_counter() - started:.0f} s)")
    print(f"machine: {machine()}, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load {os.getloadavg()[0]:.2f}")
    print(f"{'workers':>8} {'rows':>12} {'sample':>7} {'wall s':>8} {'partitions s':>13} {'flip test s':>12} "
          f"{'recourse s':>11} {'decisions s':>12} {'audit GiB':>10} {'worker GiB (max)':>17}")
    times: dict[int, tuple[float, float]] = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            r = run_once(data, workers, Path(tmp))
        peaks = dict(r["peaks"])  # type: ignore[call-overload]
        audit_peak = peaks.pop("audit", 0.0)
        worker_peak = max(peaks.values(), default=float("nan"))
        times[workers] = (float(r["wall"]), float(r["load"]))  # type: ignore[arg-type]
        label = str(workers) if workers else "local 2"
        print(f"{label:>8} {r['rows']:>12,} {r['sample']:>7,} {r['wall']:>8.1f} {r['load']:>13.1f} "
              f"{r['flip']:>12.1f} {r['recourse']:>11.1f} {r['decisions']:>12.1f} {audit_peak:>10.2f} "
              f"{worker_peak:>17.2f}")
    if 1 in times and 2 in times:
        whole = times[1][0] / (2 * times[2][0])
        partitions = times[1][1] / (2 * times[2][1])
        print(f"parallel efficiency (t1 / (2 × t2)): whole audit {whole:.2f}; partition phase {partitions:.2f}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
