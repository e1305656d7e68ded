#!/usr/bin/env bash
# Everything CI checks: lint, types, and the whole test suite (SQLite and PostgreSQL, real sshd).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The SFTP tests run a real OpenSSH sshd; PostgreSQL 15 ships with the machine image.
if [ ! -x /usr/sbin/sshd ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null
  else
    echo "openssh-server is missing and we are not root: install it (apt-get install openssh-server)" >&2
    exit 1
  fi
fi
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
