"""What machine a benchmark ran on, for the first line of its table (shared by the benchmark scripts).

Scripts are run by path (``python benchmarks/bench_x.py``), so their folder is on ``sys.path`` and
``from _machine import machine`` finds this file.
"""

from __future__ import annotations

import os
import subprocess


def machine() -> str:
    """Cores (nproc) and lscpu's model name: "2 cores, Intel(R) Xeon(R) ..."."""
    model = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines() if line.startswith("Model name")),
        "unknown CPU")
    return f"{os.cpu_count()} cores, {model}"
