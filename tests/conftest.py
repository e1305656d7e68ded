"""Shared fixtures. GATEWAY_* variables from the caller's environment never leak into tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
#: the X12 corpus, copied into the repository (provenance: tests/fixtures/corpus/SOURCES.md)
CORPUS = FIXTURES / "corpus" / "x12"

# Hypothesis profiles. `ci` keeps the full example counts (Hypothesis' default of 100, and each
# test's own count); `dev`, the local default, runs a tenth of them so the unit suite stays a
# quick loop. CI=true (or --hypothesis-profile=ci) selects `ci`.
CI_EXAMPLES = 100
DEV_SHARE = 10
settings.register_profile("ci", max_examples=CI_EXAMPLES)
settings.register_profile("dev", max_examples=CI_EXAMPLES // DEV_SHARE)


def hypothesis_profile(environ: dict[str, str] | os._Environ[str]) -> str:
    """`ci` when CI is set to 1/true/yes (any case), else `dev`."""
    return "ci" if environ.get("CI", "").strip().lower() in {"1", "true", "yes"} else "dev"


settings.load_profile(hypothesis_profile(os.environ))


def examples(ci_count: int) -> int:
    """A test's example count: ``ci_count`` under `ci`, scaled to the loaded profile otherwise."""
    return max(10, ci_count * settings().max_examples // CI_EXAMPLES)


@pytest.fixture(autouse=True)
def _scrub_gateway_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No caller GATEWAY_* setting, and a keys file of this test's own, never ~/.config.

    ``XDG_CONFIG_HOME`` (not a GATEWAY_ variable, so it survives the env a test builds for a
    subprocess by dropping GATEWAY_*) points at a fresh folder outside the test's ``tmp_path``
    (which tests often use as the data dir, where a keys file is refused).
    """
    for key in list(os.environ):
        if key.startswith("GATEWAY_") and key != "GATEWAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
