#!/usr/bin/env bash
# Sets everything up and audits the bundled German credit example; writes a signed bundle under reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
keys=examples/german-credit/keys
if [ ! -f "$keys/example-key.pem" ]; then
    .venv/bin/audit keygen --key "$keys/example-key.pem" --cert "$keys/example-cert.pem" \
        --name "Example Bank AG audit (TEST KEY)"
fi
set +e
.venv/bin/audit run examples/german-credit/audit.yaml
code=$?
set -e
# Exit 1 means the audit ran and found at least one FAIL: the report is written either way.
[ "$code" -le 1 ] || exit "$code"
bundle="$(ls -d reports/*/* | sort | tail -1)"
.venv/bin/audit verify "$bundle"
