"""``gateway reconcile --as-of`` before the last run's date is refused unless asked for: a
backdated run withdraws credits that only the later date made due (ledger lag, hold windows)."""

from __future__ import annotations

from gateway.cli import app
from tests.integration import test_reconcile_scenarios as scenarios
from tests.integration.test_reconcile_scenarios import Cli

cli = scenarios.cli  # the in-process CLI fixture


def test_backdated_run_is_refused_without_backdate(cli: Cli) -> None:
    """An operator re-running an old date by mistake gets exit 2 and a reason, not a silent
    rollback of due credits; --backdate does it on purpose, and the same date stays allowed."""
    cli("reconcile", "--as-of", "2026-09-30")
    cli("reconcile", "--as-of", "2026-09-30")
    result = cli.runner.invoke(app, ["reconcile", "--as-of", "2026-09-01"])
    assert result.exit_code == 2
    assert "backdated_reconcile" in result.stderr
    assert "2026-09-30" in result.stderr
    assert "Reconciliation" in cli("reconcile", "--as-of", "2026-09-01", "--backdate")
