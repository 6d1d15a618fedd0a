#!/usr/bin/env bash
# Sets up .venv with everything the tool and its tests need. Idempotent: a second run only checks.
# torch is installed first and pinned (a local CPU build); an unpinned torch pulls GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "audit needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)); set PYTHON=python3.11" >&2
    exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.audit-installed
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[test,mlflow]"  # the MLflow extra is tested in CI
echo "$want" > "$stamp"
