"""Intake limits from settings: a file beyond them is quarantined early with the reason, and
files within them are unaffected."""

from __future__ import annotations

import dataclasses

from tests.conftest import FIXTURES
from tests.integration.helpers import Gateway, ingest

REMIT = (FIXTURES / "x12" / "medicare-part-a.835").read_bytes()


def _limited(gw: Gateway, **limits: int) -> Gateway:
    """The gateway with other settings: services get settings passed in, never read the env."""
    return dataclasses.replace(gw, settings=gw.settings.model_copy(update=limits))


def test_too_many_segments_is_quarantined(gw: Gateway) -> None:
    rep = ingest(_limited(gw, x12_max_segments=10), REMIT, name="big.835")
    assert rep.state == "failed"
    assert rep.error_code == "limit_exceeded"
    assert "more than 10 segments" in (rep.error_message or "")


def test_too_long_element_is_quarantined_and_others_still_load(gw: Gateway) -> None:
    gw = _limited(gw, x12_max_element_length=100)
    long_name = REMIT.replace(b"N3*1 MAIN STREET", b"N3*1 MAIN STREET" + b"7" * 150, 1)
    assert long_name != REMIT
    rep = ingest(gw, long_name, name="long.835")
    assert rep.state == "failed"
    assert rep.error_code == "limit_exceeded"
    assert "N301 is" in (rep.error_message or "")
    assert ingest(gw, REMIT, name="ok.835").state == "processed"
