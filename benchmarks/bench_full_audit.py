"""Full audit of Adult (48,842 rows): every check, HTML, PDF and signatures, timed per stage.

Runs `audit run examples/adult-hiring/audit.yaml` in a child process (so peak memory is that
process's own, read from getrusage) and prints a table of stage times from the bundle's
manifest. Target (issue 6): under 60 s on 2 cores, peak memory under 2 GB.

Run: .venv/bin/python benchmarks/bench_full_audit.py [--spec examples/adult-hiring/audit.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "adult-hiring" / "audit.yaml")
    args = parser.parse_args()
    keys = ROOT / "examples" / "german-credit" / "keys"
    if not (keys / "example-key.pem").exists():
        subprocess.run([sys.executable, "-m", "audit", "keygen", "--key", str(keys / "example-key.pem"),
                        "--cert", str(keys / "example-cert.pem"), "--name", "benchmark (TEST KEY)"], check=True)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "audit", "run", str(args.spec), "--output", out],
                             capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if run.returncode not in (0, 1):
            sys.exit(f"audit failed ({run.returncode}): {run.stderr.strip()}")
        manifest = json.loads(next(Path(out).glob("*/*/manifest.json")).read_text())
        timings = manifest["audit"]["timings"]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()}")
    print(f"spec: {args.spec.relative_to(ROOT)}")
    print(f"{'stage':<28}{'seconds':>10}")
    for stage, seconds in timings.items():
        print(f"{stage:<28}{seconds:>10.2f}")
    print(f"{'wall clock (incl. start-up)':<28}{wall:>10.2f}")
    print(f"{'peak memory (MB)':<28}{peak_mb:>10.0f}")


if __name__ == "__main__":
    main()
