"""Attack: ship a dependency with a known vulnerability where nobody can tell (issue 17).

``pip-audit`` cannot reach vulnerability data from every network (it cannot from CI here), so
a release also carries a CycloneDX SBOM of ``requirements.lock`` (``scripts/sbom.sh``) that an
operator scans offline. It must list every locked package at its locked version, with a purl
a scanner matches, validate against the CycloneDX 1.6 schema, and be reproducible.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.integration.helpers import ROOT


def _sbom(out: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SOURCE_DATE_EPOCH": "1790000000",
        "PY": str(ROOT / ".venv" / "bin" / "python"),
    }
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "sbom.sh"), str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _norm(name: str) -> str:
    """The purl spec's PyPI name: lower case, ``_`` as ``-``; dots stay (``boolean.py``)."""
    return name.lower().replace("_", "-")


def test_sbom_lists_every_locked_package(tmp_path: Path) -> None:
    """Attack: a vulnerable package hidden from an offline audit (missing from the SBOM, or
    listed at another version than the one locked and shipped)."""
    out = tmp_path / "sbom.cdx.json"
    proc = _sbom(out)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    assert bom["metadata"]["component"]["name"] == "remittance-gateway"
    purls = {c["purl"] for c in bom["components"]}
    locked = [
        m.groups()
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if (m := re.match(r"^([A-Za-z0-9._-]+)==(\S+)$", line))
    ]
    assert len(locked) > 50
    for name, version in locked:
        assert f"pkg:pypi/{_norm(name)}@{version}" in purls, (name, version)
    assert len(bom["components"]) == len(locked)
    # reproducible: the same lock gives the same bytes
    again = tmp_path / "again.json"
    assert _sbom(again).returncode == 0
    assert again.read_bytes() == out.read_bytes()
