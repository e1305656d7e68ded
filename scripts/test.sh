#!/usr/bin/env bash
# Everything CI checks: lint, types, and the whole test suite (SQLite and PostgreSQL, real sshd).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
