#!/usr/bin/env bash
# Everything CI checks: lint, types, and the whole test suite (SQLite and PostgreSQL, real sshd).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The SFTP tests run a real OpenSSH sshd, the console tests a headless Chromium and the document
# tests render PDFs with poppler's pdftoppm; all come from Debian. PostgreSQL 15 ships with the machine image (the fixtures start their own cluster).
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/pdftoppm ] || missing+=(poppler-utils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages (${missing[*]}) and not root: apt-get install them" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/python -m pytest "$@"
