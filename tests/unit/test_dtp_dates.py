"""837 dates with times: DTP D8, RD8, DT, TM and RDT read into typed values.

The segments are in the forms the 005010X223A2 (institutional) and X222A1 (professional)
guides give for them: 2300 admission date and hour ``DTP*435*DT*CCYYMMDDHHMM``, discharge
hour ``DTP*096*TM*HHMM``, statement dates ``DTP*434*RD8*...``, 2400 service date
``DTP*472*D8*...``. A bad value is a ``bad_date`` finding that names DTP01 and the format
qualifier it failed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import parsers
from parsers.x12.values import date_range, period
from schemas.claim import Claim

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "fixtures" / "x12" / "two-claims-single-provider.837i").read_bytes()
STATEMENT = "DTP*434*RD8*20050315-20050315"


def _with_dates(*segments: str, statement: str | None = None) -> bytes:
    """The fixture's first claim with these DTP segments after its statement dates."""
    text = BASE.decode()
    sep = "~" if "~\n" not in text else "~\n"
    extra = "".join(f"{seg}{sep}" for seg in segments)
    first = STATEMENT + sep
    new_statement = (statement + sep) if statement is not None else first
    assert first in text
    text = text.replace(first, new_statement + extra, 1)
    count = text.count(sep, text.index("ST*837"), text.index("SE*")) + 1
    text = text.replace("SE*48*", f"SE*{count}*")
    return text.encode()


def _first_claim(data: bytes) -> tuple[Claim, list[parsers.Finding]]:
    result = parsers.parse(data)
    [sub] = result.claim_submissions
    return sub.claims[0], result.findings


def test_admission_date_and_hour_and_discharge_hour() -> None:
    claim, findings = _first_claim(_with_dates("DTP*096*TM*1130", "DTP*435*DT*200503140945"))
    assert [f for f in findings if f.severity == parsers.ERROR] == []
    assert claim.admission_date == dt.date(2005, 3, 14)
    assert claim.admission_time == dt.time(9, 45)
    assert claim.discharge_date is None
    assert claim.discharge_time == dt.time(11, 30)
    assert (claim.service_date, claim.service_date_end) == (dt.date(2005, 3, 15),) * 2


def test_a_d8_admission_and_discharge_keep_no_hour() -> None:
    claim, _ = _first_claim(_with_dates("DTP*435*D8*20050314", "DTP*096*D8*20050315"))
    assert (claim.admission_date, claim.admission_time) == (dt.date(2005, 3, 14), None)
    assert (claim.discharge_date, claim.discharge_time) == (dt.date(2005, 3, 15), None)


def test_a_statement_period_as_date_times_keeps_its_days() -> None:
    claim, findings = _first_claim(_with_dates(statement="DTP*434*RDT*200503140945-200503151130"))
    assert [f for f in findings if f.severity == parsers.ERROR] == []
    assert (claim.service_date, claim.service_date_end) == (
        dt.date(2005, 3, 14),
        dt.date(2005, 3, 15),
    )


@pytest.mark.parametrize(
    ("segment", "needle"),
    [
        (
            "DTP*435*DT*20050314",
            "DTP*435 DTP03 DT (CCYYMMDDHHMM): '20050314' is not a CCYYMMDDHHMM date and time",
        ),
        (
            "DTP*435*DT*200503142460",
            "DTP*435 DTP03 DT (CCYYMMDDHHMM): '2460' is not a valid time of day",
        ),
        ("DTP*096*TM*930", "DTP*096 DTP03 TM (HHMM): '930' is not an HHMM time"),
        ("DTP*435*D8*20050230", "DTP*435 DTP03 D8 (CCYYMMDD): '20050230' is not a valid calendar"),
        ("DTP*435*RD8*20050314-20050315", "DTP*435 DTP03 RD8 is a range"),
        (
            "DTP*435*D6*050314",
            "DTP*435 DTP03 format qualifier 'D6' is not one of D8, RD8, DT, TM, RDT",
        ),
        ("DTP*431*DT*2005031409", "DTP*431 DTP03 DT (CCYYMMDDHHMM)"),
    ],
)
def test_a_bad_value_names_its_qualifier(segment: str, needle: str) -> None:
    result = parsers.parse(_with_dates(segment))
    errors = [f for f in result.findings if f.code == "bad_date"]
    assert len(errors) == 1, result.findings
    assert needle in errors[0].message
    assert errors[0].location.segment_id == "DTP"
    assert errors[0].location.element == 3


def test_a_statement_period_cannot_be_an_hour() -> None:
    result = parsers.parse(_with_dates(statement="DTP*434*TM*1130"))
    [error] = [f for f in result.findings if f.code == "bad_date"]
    assert "DTP*434 DTP03 TM (HHMM) is a time of day, not a date" in error.message


@pytest.mark.parametrize(
    ("qualifier", "text", "value"),
    [
        ("D8", "20050315", dt.date(2005, 3, 15)),
        ("RD8", "20050301-20050331", (dt.date(2005, 3, 1), dt.date(2005, 3, 31))),
        ("DT", "200503150000", dt.datetime(2005, 3, 15, 0, 0)),
        ("DT", "200503152359", dt.datetime(2005, 3, 15, 23, 59)),
        ("TM", "0000", dt.time(0, 0)),
        ("TM", "1130", dt.time(11, 30)),
        (
            "RDT",
            "200503140945-200503151130",
            (dt.datetime(2005, 3, 14, 9, 45), dt.datetime(2005, 3, 15, 11, 30)),
        ),
    ],
)
def test_period_types(qualifier: str, text: str, value: object) -> None:
    got = period(qualifier, text)
    assert got == value
    assert type(got) is type(value)


def test_date_range_reads_every_dated_format_and_keeps_old_tolerances() -> None:
    day = dt.date(2005, 3, 15)
    assert date_range("DT", "200503150945") == (day, day)
    assert date_range("RDT", "200503140945-200503151130") == (dt.date(2005, 3, 14), day)
    # a D8 holding a range, a missing qualifier, an RD8 of one day: read by their shape
    assert date_range("D8", "20050314-20050315") == (dt.date(2005, 3, 14), day)
    assert date_range("", "20050315") == (day, day)
    assert date_range("RD8", "20050315") == (day, day)
    with pytest.raises(ValueError, match="TM"):
        date_range("TM", "1130")
