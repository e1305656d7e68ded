#!/usr/bin/env bash
# CycloneDX SBOM (JSON, spec 1.6) of the locked dependency set (requirements.lock): a release
# artefact, so that an operator can audit the dependencies offline (OSV-Scanner, Grype,
# Dependency-Track) where pip-audit cannot reach its vulnerability service. Keep running
# scripts/audit-deps.sh where the network allows it; this does not replace it.
#
#   scripts/sbom.sh                      # writes dist/sbom.cdx.json
#   scripts/sbom.sh path/to/out.json
#
# Offline: cyclonedx-py reads only the lock and pyproject.toml. Reproducible: the timestamp is
# SOURCE_DATE_EPOCH (default: the last commit's time) and serial numbers are derived, so the
# same lock gives the same bytes. Fails (exit 1) when the SBOM does not list every locked
# package at its locked version, and (exit 2) when it could not be produced.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOCK=${LOCK:-requirements.lock}
OUT=${1:-dist/sbom.cdx.json}
mkdir -p "$(dirname "$OUT")"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
# the "root component has no dependency graph" warning is expected: a lock is flat
if ! PYTHONWARNINGS=ignore::UserWarning "$PY" -m cyclonedx_py requirements "$LOCK" \
        --pyproject pyproject.toml --mc-type application --sv 1.6 --output-format JSON \
        --output-reproducible --validate --output-file "$OUT"; then
    echo "sbom: cyclonedx-py failed: no SBOM for $LOCK" >&2
    exit 2
fi
"$PY" - "$LOCK" "$OUT" <<'PYEOF'
import json
import re
import sys

lock, out = sys.argv[1], sys.argv[2]
want = {}
for line in open(lock, encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9._-]+)==([^\s;#]+)", line)
    if m:
        want[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
bom = json.load(open(out, encoding="utf-8"))
have = {re.sub(r"[-_.]+", "-", c["name"]).lower(): c.get("version")
        for c in bom.get("components", [])}
missing = sorted(f"{n}=={v}" for n, v in want.items() if have.get(n) != v)
if missing:
    print(f"sbom: {out} lacks {len(missing)} locked package(s): {', '.join(missing[:10])}",
          file=sys.stderr)
    sys.exit(1)
root = bom["metadata"]["component"]
print(f"sbom: {out}: CycloneDX {bom['specVersion']}, {root['name']} {root['version']}, "
      f"{len(want)} locked packages")
PYEOF
