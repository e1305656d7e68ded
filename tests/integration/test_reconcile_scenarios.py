"""Worked reconciliation scenarios through the CLI, on SQLite and PostgreSQL.

Each folder of tests/fixtures/reconcile holds real X12 835/837 files, ledger CSVs and
``steps.json`` with the EXACT credits (and variances) expected after each step (see
docs/accounting.md for the arithmetic).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from gateway.cli import app
from tests.integration.helpers import Gateway

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reconcile"
SCENARIOS = sorted(p.name for p in FIXTURES.iterdir() if (p / "steps.json").exists())
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


class Cli:
    """Run ``gateway`` commands in-process against one gateway's database."""

    def __init__(self, runner: CliRunner) -> None:
        self.runner = runner

    def __call__(self, *args: str, code: int | None = 0) -> str:
        result = self.runner.invoke(app, list(args), terminal_width=200)
        if code is not None:
            assert result.exit_code == code, (args, result.output, result.exception)
        return result.stdout

    def json(self, *args: str, code: int = 0) -> list[dict[str, Any]]:
        data = json.loads(self(*args, "--json", code=code))
        assert isinstance(data, list)
        return data


@pytest.fixture
def cli(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for key, value in gw.env.items():
        if key.startswith("GATEWAY_"):
            monkeypatch.setenv(key, value)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield Cli(CliRunner())
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    structlog.reset_defaults()


def _credits(cli: Cli) -> list[dict[str, Any]]:
    rows = cli.json("credits", "--status", "all")
    for r in rows:
        assert set(CONTRACT) <= set(r)
    return rows


def _key(r: dict[str, Any]) -> tuple[str, ...]:
    return (r["patient_control_number"], r["cause"], r["owed_to"], r["payer_id"] or "", r["status"])


def _project(rows: list[dict[str, Any]], like: list[dict[str, Any]]) -> list[dict[str, Any]]:
    fields = set(CONTRACT) | {k for e in like for k in e}
    return sorted(({k: r.get(k) for k in fields} for r in rows), key=_key)


def _ingest(cli: Cli, folder: Path, name: str, provider: str | None) -> None:
    args = ["ingest", str(folder / name)]
    if provider:
        args += ["--provider", provider]
    out = cli(*args)
    assert "processed" in out, out


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(cli: Cli, scenario: str) -> None:
    folder = FIXTURES / scenario
    spec = json.loads((folder / "steps.json").read_text())
    for i, step in enumerate(spec["steps"]):
        for name in step["files"]:
            _ingest(cli, folder, name, step.get("providers", {}).get(name))
        cli("reconcile", "--as-of", step["as_of"])
        expected = step["credits"]
        assert _project(_credits(cli), expected) == sorted(expected, key=_key), (
            f"{scenario} step {i + 1}"
        )
        if "variances" in step:
            got = cli.json("variances")
            fields = {k for e in step["variances"] for k in e}
            assert [{k: v[k] for k in fields} for v in got] == step["variances"]
        for name, verdicts in step.get("refund_requests", {}).items():
            rows = cli.json("refund-requests", "validate", str(folder / name))
            assert [[r["verdict"], r["reason"], r["valid_amount"]] for r in rows] == verdicts
    # idempotent and deterministic: a full recomputation on the same day changes nothing
    before = _credits(cli)
    cli("reconcile", "--as-of", spec["steps"][-1]["as_of"], "--full")
    assert _credits(cli) == before


@pytest.mark.usefixtures("gw")
def test_two_providers_never_mix(cli: Cli) -> None:
    folder = FIXTURES / "two_providers"
    for name in ("1.835", "2.835", "3.835"):
        _ingest(cli, folder, name, None)
    # several providers are known: a ledger without --provider is refused, with a clear error
    result = cli.runner.invoke(app, ["ingest", str(folder / "4.csv")])
    assert result.exit_code == 2
    assert "ledger_provider_unknown" in result.output
    _ingest(cli, folder, "4.csv", "1234567893")
    _ingest(cli, folder, "5.csv", "1992999998")
    cli("reconcile", "--as-of", "2026-09-30")
    rows = cli.json("credits")
    assert [(r["account_id"], r["amount"]) for r in rows] == [("A-ONE", "80.00")]
    providers = {r["provider_id"] for r in rows}
    assert len(providers) == 1
