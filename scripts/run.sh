#!/usr/bin/env bash
# The main job on the embedded default (SQLite + local inbox + bundled data): generate the demo
# half-year, feed it through the inbox, reconcile, resolve, write reports, and compare the
# credits found with the answer file. Exit 0 only when they match. Safe to run again.
#   GATEWAY_DATA_DIR  where everything lives (default ./var); GATEWAY_INBOX (default DATA/inbox)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export GATEWAY_DATA_DIR=${GATEWAY_DATA_DIR:-./var}
export GATEWAY_LOG_LEVEL=${GATEWAY_LOG_LEVEL:-WARNING}
exec .venv/bin/python scripts/run_demo.py "$@"
