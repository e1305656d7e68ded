"""Hypothesis profiles: CI=true keeps the full example counts; locally `dev` runs a tenth."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PROBE = (
    "from hypothesis import settings; from tests.conftest import examples; "
    "print(settings.default.max_examples, examples(2000), examples(200), examples(12))"
)


def _probe(ci: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_ci_true_selects_the_full_counts(ci: str) -> None:
    assert _probe(ci) == "100 2000 200 12"


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_dev_is_the_local_default(ci: str | None) -> None:
    assert _probe(ci) == "10 200 20 10"
