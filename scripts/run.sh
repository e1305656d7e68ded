#!/usr/bin/env bash
# The main job on the embedded default: SQLite + local inbox + the bundled sample files.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export GATEWAY_DATA_DIR=${GATEWAY_DATA_DIR:-./var}
.venv/bin/gateway samples
