"""Hypothesis profiles: CI=true keeps the full example counts; locally `dev` runs a tenth."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import settings

from tests.conftest import ROOT, examples, hypothesis_profile

PROBE = (
    "from hypothesis import settings; from tests.conftest import examples; "
    "print(settings().max_examples, examples(2000), examples(200), examples(12))"
)


def _probe(ci: str | None) -> str:
    """What a fresh interpreter loading tests/conftest.py gets, with CI set to ``ci``."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_ci_true_loads_the_full_counts() -> None:
    assert _probe("true") == "100 2000 200 12"


def test_this_run_uses_the_profile_its_environment_selects() -> None:
    expected = 100 if hypothesis_profile(os.environ) == "ci" else 10
    assert settings().max_examples == expected
    assert examples(2000) == expected * 20


@pytest.mark.parametrize(
    ("value", "profile"),
    [
        ("true", "ci"),
        ("TRUE", "ci"),
        ("1", "ci"),
        (" yes ", "ci"),
        (None, "dev"),
        ("", "dev"),
        ("false", "dev"),
        ("0", "dev"),
    ],
)
def test_which_values_of_ci_select_the_ci_profile(value: str | None, profile: str) -> None:
    assert hypothesis_profile({} if value is None else {"CI": value}) == profile
