#!/usr/bin/env bash
# Audit the locked dependency set (requirements.lock) for known vulnerabilities with pip-audit.
#
# Fails (exit 1) when a locked package has a known vulnerability for which a fixed version
# exists, and (exit 2) when the audit itself could not run or could not check every package:
# a dependency that could not be audited is a failure, never a silent pass (--strict).
# Vulnerabilities without any fix are printed as warnings (nothing to upgrade to yet).
#
#   scripts/audit-deps.sh                 # PyPI JSON API vulnerability service
#   PIP_AUDIT_SERVICE=osv scripts/audit-deps.sh
#
# Regenerate the lock after changing dependencies:
#   .venv/bin/pip freeze --exclude-editable | grep -v -e '^pip-audit==' > requirements.lock
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LOCK=${LOCK:-requirements.lock}
SERVICE=${PIP_AUDIT_SERVICE:-pypi}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

set +e
"$PY" -m pip_audit -r "$LOCK" --no-deps --disable-pip --strict --progress-spinner off \
    -s "$SERVICE" --desc on --format json --output "$OUT"
rc=$?
set -e
if [ ! -s "$OUT" ]; then
    echo "audit-deps: pip-audit produced no report (exit $rc): cannot vouch for $LOCK" >&2
    exit 2
fi
"$PY" - "$OUT" "$rc" <<'PYEOF'
import json
import sys

report = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
deps = report.get("dependencies", [])
skipped = [d for d in deps if d.get("skip_reason")]
fixable, unfixed = [], []
for d in deps:
    for v in d.get("vulns", []):
        (fixable if v.get("fix_versions") else unfixed).append((d["name"], d["version"], v))
for name, version, v in unfixed:
    print(f"WARNING {name} {version}: {v['id']} (no fixed version yet)")
for name, version, v in fixable:
    print(f"VULNERABLE {name} {version}: {v['id']} fixed in {', '.join(v['fix_versions'])}"
          f" - {(v.get('description') or '')[:160]}")
print(f"audit-deps: {len(deps)} packages, {len(fixable)} fixable, {len(unfixed)} unfixed, "
      f"{len(skipped)} not auditable")
if skipped:
    for d in skipped[:10]:
        print(f"  not audited: {d['name']} {d['version']}: {d['skip_reason']}")
    sys.exit(2)
sys.exit(1 if fixable else 0)
PYEOF
