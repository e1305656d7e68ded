"""``gateway.logging`` loads structlog on the first log call, with the configuration asked for.

Each check runs in a fresh interpreter: this test process has structlog loaded already, and
there ``configure_logging`` applies at once (the other branch, checked last).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

LOG_LATER = """
import sys
from gateway.logging import configure_logging, get_logger
log = get_logger("gateway.test")
configure_logging("WARNING", "json")
print("before first log:", "structlog" in sys.modules)
log.info("dropped_below_level", n=1)
log.warning("kept", patient_name="Jane Doe", count=2)
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
    )


def test_structlog_loads_on_the_first_log_call_with_the_configuration_asked_for() -> None:
    proc = _run(LOG_LATER)
    assert proc.stdout.strip() == "before first log: False"  # configure alone did not load it
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    # level, JSON renderer, PHI redaction and stderr: all of configure_logging's choices
    assert [(e["event"], e["level"], e["patient_name"], e["count"]) for e in lines] == [
        ("kept", "warning", "[redacted]", 2)
    ]


def test_a_command_that_never_logs_never_loads_structlog() -> None:
    code = (
        "import sys\n"
        "from gateway.logging import configure_logging, get_logger\n"
        "configure_logging('INFO', 'json'); get_logger('x')\n"
        "print('structlog' in sys.modules)\n"
    )
    assert _run(code).stdout.strip() == "False"


def test_once_structlog_is_loaded_configure_applies_at_once() -> None:
    code = (
        "import structlog, sys\n"
        "from gateway.logging import configure_logging\n"
        "configure_logging('ERROR', 'json')\n"
        "structlog.get_logger('direct').error('direct_call', address='1 Main St')\n"
    )
    [line] = _run(code).stderr.splitlines()
    assert json.loads(line)["address"] == "[redacted]"  # configured although never via get_logger
