"""Shared fixtures. GATEWAY_* variables from the caller's environment never leak into tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
#: the X12 corpus, copied into the repository (provenance: tests/fixtures/corpus/SOURCES.md)
CORPUS = FIXTURES / "corpus" / "x12"


@pytest.fixture(autouse=True)
def _scrub_gateway_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("GATEWAY_") and key != "GATEWAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(key, raising=False)
