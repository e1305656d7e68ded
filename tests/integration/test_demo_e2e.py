"""The demo half-year end to end: ingest it, reconcile at its checkpoints (each month's, then the
final run), compare with its answers (six months of the same planted credits).

Runs the real CLI against SQLite and PostgreSQL: for each checkpoint of ``manifest.json``, ingest
its files (837s, 835s, ledger export) and ``gateway reconcile --as-of`` its date; then
``gateway credits --json --status all`` must equal ``answers.json`` exactly on the fields of the
issue-5 contract, and ``gateway variances --json`` must list exactly the planted variance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.demo import generate
from tests.integration.helpers import Gateway

CONTRACT = (
    "account_id",
    "patient_control_number",
    "owed_to",
    "payer_id",
    "amount",
    "cause",
    "government",
    "identified_on",
    "due_by",
    "status",
)
VARIANCE_FIELDS = (
    "account_id",
    "patient_control_number",
    "payer_id",
    "kind",
    "posted",
    "remitted",
    "difference",
)
LINE_VARIANCE_FIELDS = (
    "account_id",
    "patient_control_number",
    "payer_id",
    "kind",
    "charge",
    "paid",
    "status",
)
LINE_KINDS = frozenset({"unposted_line", "charge_mismatch"})


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_demo_half_year_credits_equal_the_answer_file(gw: Gateway, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    manifest = generate(out, claims=40, seed=11)
    assert manifest.months == 6
    assert len(manifest.checkpoints) == 7
    for step in manifest.checkpoints:
        proc = gw.cli("ingest", *(str(out / p) for p in step.files), timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        gw.cli("reconcile", "--as-of", step.as_of.isoformat(), check=True, timeout=300)
    answers = json.loads(manifest.answers_path.read_text(encoding="utf-8"))

    proc = gw.cli(*answers["credits_command"], check=True)
    got = [{k: row[k] for k in CONTRACT} for row in json.loads(proc.stdout)]
    assert sorted(got, key=_key) == sorted(answers["credits"], key=_key)
    assert len(got) == 96  # 16 a month

    proc = gw.cli("variances", "--json", check=True)
    # posting variances and line variances each with their own fields, as answers.json has them
    variances = [
        {
            k: row[k]
            for k in (LINE_VARIANCE_FIELDS if row["kind"] in LINE_KINDS else VARIANCE_FIELDS)
        }
        for row in json.loads(proc.stdout)
    ]
    assert sorted(variances, key=_key) == sorted(answers["variances"], key=_key)
