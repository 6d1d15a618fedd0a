#!/usr/bin/env bash
# Sets everything up and runs the test suite (slow tests included; under 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
.venv/bin/ruff check audit tests benchmarks examples
.venv/bin/mypy  # audit/, settings in pyproject.toml [tool.mypy]
exec .venv/bin/python -m pytest -n 2 "$@"
