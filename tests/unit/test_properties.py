"""Property tests: writer → parser round trips, and the parser's behaviour on damaged input.

Round trip: remittances and claim submissions built from random (but well-formed) canonical
models, written with random distinct delimiters and line breaks, parse back to equal models and
to a clean envelope. The generated money balances, so any finding at all is a failure.

Robustness: valid files (real fixtures and generated ones) with random byte flips, cuts,
insertions and duplicated runs either parse or raise an ``X12Error`` subclass; any other
exception, or a parse that does not finish, fails the test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parsers
from parsers.writer import (
    GUIDE_835,
    GUIDES_837,
    STANDARD_DELIMITERS,
    Envelope,
    X12WriteError,
    format_amount,
    write_835,
    write_837,
)
from schemas.claim import Claim, ClaimLine, ClaimSubmission, OtherPayer, Subscriber
from schemas.common import Address, Entity, Reference
from schemas.envelope import Delimiters, TransactionHeader
from schemas.remittance import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from tests.conftest import FIXTURES, examples
from tests.unit.test_corpus import outcome

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[T]], T]

#: X12 basic character set: upper-case letters, digits, space and these specials
BASIC_SPECIALS = "!\"&'()*+,-./:;?="
DELIMITER_POOL = "*|^~:>!+?{}<\\"
ALNUM = string.ascii_uppercase + string.digits
ROUND_TRIP = settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------- strategies


@st.composite
def delimiters(draw: Draw[Any]) -> Delimiters:
    chars = draw(st.lists(st.sampled_from(DELIMITER_POOL), min_size=4, max_size=4, unique=True))
    return Delimiters(element=chars[0], component=chars[1], repetition=chars[2], segment=chars[3])


@cache  # strategies are immutable: build each shape once
def texts(d: Delimiters, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    """Free text from the basic character set without this interchange's delimiters."""
    banned = {d.element, d.component, d.repetition, d.segment}
    alphabet = "".join(c for c in ALNUM + " " + BASIC_SPECIALS if c not in banned)
    return (
        st.text(alphabet, min_size=min_size, max_size=max_size)
        .map(str.strip)
        .filter(lambda s: len(s) >= min_size)
    )


@cache  # strategies are immutable: build each shape once
def codes(min_size: int = 1, max_size: int = 6) -> st.SearchStrategy[str]:
    return st.text(ALNUM, min_size=min_size, max_size=max_size)


@cache  # strategies are immutable: build each shape once
def money(low: str = "-99999.99", high: str = "99999.99") -> st.SearchStrategy[Decimal]:
    return st.decimals(Decimal(low), Decimal(high), places=2, allow_nan=False, allow_infinity=False)


@cache  # strategies are immutable: build each shape once
def dates() -> st.SearchStrategy[dt.date]:
    return st.dates(dt.date(1950, 1, 1), dt.date(2049, 12, 31))


def optional(s: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | s


@cache  # strategies are immutable: build each shape once
def composite_code() -> st.SearchStrategy[str]:
    return st.builds(
        lambda q, c, mods: ":".join([q, c, *mods]),
        st.sampled_from(["HC", "NU", "AD"]),
        codes(3, 5),
        st.lists(codes(2, 2), max_size=2),
    )


@cache  # strategies are immutable: build each shape once
def address(d: Delimiters) -> st.SearchStrategy[Address]:
    return st.builds(
        Address,
        line1=texts(d),
        line2=st.just("") | texts(d),
        city=texts(d),
        state=codes(2, 2),
        postal_code=codes(5, 9),
    )


@cache  # strategies are immutable: build each shape once
def references(
    d: Delimiters, quals: tuple[str, ...], max_size: int = 2
) -> st.SearchStrategy[list[Reference]]:
    return st.lists(
        st.builds(Reference, st.sampled_from(quals), texts(d)),
        max_size=max_size,
        unique_by=lambda r: r.qualifier,
    )


@cache  # strategies are immutable: build each shape once
def n1_entity(d: Delimiters, code: str) -> st.SearchStrategy[Entity]:
    return st.builds(
        Entity,
        entity_code=st.just(code),
        name=texts(d),
        id_qualifier=st.sampled_from(["XX", "FI", "PI"]),
        id=codes(5, 10),
        address=optional(address(d)),
        references=references(d, ("TJ", "2U", "PQ")),
    )


@cache  # strategies are immutable: build each shape once
def nm1_entity(d: Delimiters, code: str, block: bool = False) -> st.SearchStrategy[Entity]:
    """NM1 person/organisation; ``block`` adds N3/N4/REF (837 loops, not 835 claims)."""
    return st.builds(
        Entity,
        entity_code=st.just(code),
        name=texts(d),
        first_name=st.just("") | texts(d),
        middle_name=st.just("") | codes(1, 1),
        id_qualifier=st.sampled_from(["MI", "XX", "HN"]),
        id=codes(5, 12),
        address=optional(address(d)) if block else st.none(),
        references=references(d, ("SY", "EI", "G2")) if block else st.just([]),
    )


@cache  # strategies are immutable: build each shape once
def adjustments(with_quantity: bool = True) -> st.SearchStrategy[list[Adjustment]]:
    return st.lists(
        st.builds(
            Adjustment,
            group=st.sampled_from(["CO", "OA", "PI", "PR"]),
            reason=st.sampled_from(["1", "2", "3", "45", "23", "97", "253", "B7"]),
            amount=money("-999.99", "999.99"),
            quantity=optional(st.integers(1, 99).map(Decimal)) if with_quantity else st.none(),
        ),
        max_size=4,
    )


@st.composite
def service_payment(draw: Draw[Any], d: Delimiters) -> ServicePayment:
    charge = draw(money("0", "9999.99"))
    adj = draw(adjustments())
    amounts = draw(
        st.dictionaries(st.sampled_from(["B6", "KH", "T"]), money("0", "9999.99"), max_size=2)
    )
    start, end = draw(st.sampled_from(["none", "start", "end", "same", "range"])), None
    first, second = draw(dates()), draw(dates())
    start, end = {
        "none": (None, None),
        "start": (first, None),
        "end": (None, first),
        "same": (first, first),
        "range": (first, second),
    }[start]
    return ServicePayment(
        procedure=draw(composite_code()),
        charge=charge,
        paid=charge - sum((a.amount for a in adj), Decimal(0)),
        revenue_code=draw(st.just("") | codes(4, 4)),
        units=draw(optional(st.integers(0, 99).map(Decimal))),
        original_procedure=draw(st.just("") | composite_code()),
        original_units=draw(optional(st.integers(1, 9).map(Decimal))),
        service_date=start,
        service_date_end=end,
        line_control_number=draw(st.just("") | codes(1, 30)),
        allowed=amounts.get("B6"),
        adjustments=adj,
        remark_codes=draw(st.lists(codes(4, 5).map(lambda c: "HE:" + c), max_size=2)),
        references=draw(references(d, ("LU", "1B", "G1"))),
        amounts=amounts,
    )


@st.composite
def claim_payment(draw: Draw[Any], d: Delimiters) -> ClaimPayment:
    services = draw(st.lists(service_payment(d), max_size=2))
    adj = draw(adjustments())
    charge = draw(money("0", "99999.99"))
    total_adj = sum((a.amount for a in adj), Decimal(0)) + sum(
        (a.amount for s in services for a in s.adjustments), Decimal(0)
    )

    def mia_moa() -> st.SearchStrategy[list[str]]:
        return st.lists(st.just("") | codes(1, 5), max_size=4).map(lambda xs: [*xs, "MA01"])

    return ClaimPayment(
        patient_control_number=draw(texts(d, 1, 20)),
        status_code=draw(st.sampled_from(["1", "2", "3", "4", "19", "22", "23"])),
        charge=charge,
        paid=charge - total_adj,
        patient_responsibility=draw(optional(money("0", "999.99"))),
        filing_indicator=draw(st.sampled_from(["12", "MA", "MB", "MC", "CI", "ZZ", "16"])),
        payer_claim_control_number=draw(codes(1, 14)),
        facility_code=draw(st.just("") | codes(2, 2)),
        frequency_code=draw(st.just("") | st.sampled_from(["1", "7", "8"])),
        drg_code=draw(st.just("") | codes(3, 3)),
        drg_weight=draw(optional(st.decimals(Decimal(0), Decimal(9), places=4))),
        discharge_fraction=draw(optional(st.decimals(Decimal(0), Decimal(1), places=2))),
        patient=draw(optional(nm1_entity(d, "QC"))),
        insured=draw(optional(nm1_entity(d, "IL"))),
        corrected_patient=draw(optional(nm1_entity(d, "74"))),
        rendering_provider=draw(optional(nm1_entity(d, "82"))),
        crossover_carrier=draw(optional(nm1_entity(d, "TT"))),
        inpatient_adjudication=draw(st.just([]) | mia_moa()),
        outpatient_adjudication=draw(st.just([]) | mia_moa()),
        statement_from=draw(optional(dates())),
        statement_to=draw(optional(dates())),
        received_date=draw(optional(dates())),
        dates=draw(st.dictionaries(st.sampled_from(["036", "037"]), dates(), max_size=2)),
        references=draw(references(d, ("1K", "EA", "BB", "F8"), 3)),
        amounts=draw(
            st.dictionaries(st.sampled_from(["AU", "D8", "I", "F5"]), money(), max_size=2)
        ),
        quantities=draw(
            st.dictionaries(
                st.sampled_from(["CA", "ZK"]), st.integers(0, 99).map(Decimal), max_size=2
            )
        ),
        adjustments=adj,
        services=services,
    )


@st.composite
def remittance(draw: Draw[Any], d: Delimiters, control: str) -> Remittance:
    claims = draw(st.lists(claim_payment(d), max_size=3))
    provider = draw(codes(10, 10))
    fiscal = draw(optional(dates()))
    plb = draw(
        st.lists(
            st.builds(
                ProviderAdjustment,
                provider_id=st.just(provider),
                fiscal_period_date=st.just(fiscal),
                reason=st.sampled_from(["WO", "72", "FB", "L6", "CS", "J1"]),
                reference=st.just("") | codes(1, 20),
                amount=money("-9999.99", "9999.99"),
            ),
            max_size=8,
        )
    )
    receiver = draw(st.just("") | codes(4, 12))
    refs = [Reference("EV", receiver)] if receiver else []
    refs += draw(references(d, ("F2",), 1))
    return Remittance(
        header=TransactionHeader("835", control, "", "835", "", ""),
        handling_code=draw(st.sampled_from(["I", "C", "H", "P", "X"])),
        payment_amount=abs(
            sum((c.paid for c in claims), Decimal(0)) - sum((a.amount for a in plb), Decimal(0))
        ),
        credit_debit="C",
        payment_method=draw(st.sampled_from(["ACH", "CHK", "NON", "BOP"])),
        payment_format=draw(st.just("") | st.sampled_from(["CCP", "CTX"])),
        payment_date=draw(optional(dates())),
        trace_type="1",
        trace_number=draw(codes(1, 30)),
        originator_id=draw(codes(10, 10)),
        production_date=draw(optional(dates())),
        receiver_id=receiver,
        payer=draw(optional(n1_entity(d, "PR"))),
        payee=draw(optional(n1_entity(d, "PE"))),
        references=refs,
        claims=claims,
        provider_adjustments=plb,
    )


@st.composite
def remittance_case(draw: Draw[Any]) -> tuple[list[Remittance], Delimiters, str, Envelope]:
    d = draw(delimiters())
    n = draw(st.integers(1, 3))
    remits = [draw(remittance(d, f"{i + 1:04d}")) for i in range(n)]
    return remits, d, draw(st.sampled_from(["", "\n", "\r\n"])), draw(envelopes())


def envelopes() -> st.SearchStrategy[Envelope]:
    return st.builds(
        Envelope,
        sender_id=codes(1, 15),
        receiver_id=codes(1, 15),
        interchange_control_number=st.integers(1, 999_999_999),
        group_control_number=st.integers(1, 99_999),
        date=dates(),
        time=st.builds(lambda h, m: f"{h:02d}{m:02d}", st.integers(0, 23), st.integers(0, 59)),
        usage_indicator=st.sampled_from(["P", "T"]),
        ack_requested=st.booleans(),
    )


def period(start: dt.date | None, later: dt.date) -> tuple[dt.date | None, dt.date | None]:
    if start is None:
        return None, None
    return start, max(start, later)


@st.composite
def claim_line(draw: Draw[Any], d: Delimiters, kind: str, number: int) -> ClaimLine:
    start, end = period(draw(optional(dates())), draw(dates()))
    return ClaimLine(
        line_number=number,
        procedure=draw(composite_code()),
        charge=draw(money("0", "9999.99")),
        revenue_code=draw(codes(4, 4)) if kind == "837I" else "",
        units=draw(optional(st.integers(1, 99).map(Decimal))),
        unit_basis=draw(st.sampled_from(["UN", "MJ"])) if kind != "837D" else "",
        place_of_service=draw(st.just("") | codes(2, 2)) if kind != "837I" else "",
        non_covered=draw(optional(money("0", "99.99"))) if kind == "837I" else None,
        service_date=start,
        service_date_end=end,
        line_control_number=draw(st.just("") | codes(1, 30)),
        references=draw(references(d, ("9B", "LU", "G1"))),
    )


@st.composite
def subscriber(draw: Draw[Any], d: Delimiters) -> tuple[Subscriber, Entity]:
    dob = draw(optional(dates()))
    sub = Subscriber(
        sequence=draw(st.sampled_from(["P", "S", "T"])),
        relationship=draw(st.sampled_from(["18", ""])),
        group_number=draw(st.just("") | codes()),
        filing_indicator=draw(st.sampled_from(["CI", "MB", "MC", "BL", "16"])),
        person=draw(nm1_entity(d, "IL", block=True)),
        date_of_birth=dob,
        gender=draw(st.sampled_from(["F", "M", "U"])) if dob else "",
    )
    return sub, draw(nm1_entity(d, "PR", block=True))


@st.composite
def claim(
    draw: Draw[Any], d: Delimiters, kind: str, billing: Entity, sub: tuple[Subscriber, Entity]
) -> Claim:
    subscriber_, payer = sub
    lines = [draw(claim_line(d, kind, i + 1)) for i in range(draw(st.integers(0, 4)))]
    if draw(st.booleans()):
        patient, dob = subscriber_.person, subscriber_.date_of_birth
    else:
        patient, dob = draw(nm1_entity(d, "QC", block=True)), draw(optional(dates()))
    refs = draw(references(d, ("D9", "EA", "F8", "G1", "9F"), 3))
    start, end = period(draw(optional(dates())), draw(dates()))
    return Claim(
        patient_control_number=draw(texts(d, 1, 20)),
        total_charge=sum((ln.charge for ln in lines), Decimal(0)) if lines else draw(money()),
        facility_code=draw(codes(2, 2)),
        facility_qualifier=draw(st.sampled_from(["A", "B"])),
        frequency_code=draw(st.sampled_from(["1", "7", "8"])),
        billing_provider=billing,
        subscriber=subscriber_,
        payer=payer,
        patient=patient,
        patient_date_of_birth=dob,
        service_date=start,
        service_date_end=end,
        admission_date=draw(optional(dates())),
        discharge_date=draw(optional(dates())),
        # DT (CCYYMMDDHHMM) with a date, TM (HHMM: 837I's discharge hour) without one
        admission_time=draw(optional(st.times().map(lambda t: t.replace(second=0, microsecond=0)))),
        discharge_time=draw(optional(st.times().map(lambda t: t.replace(second=0, microsecond=0)))),
        original_claim_number=next((r.value for r in refs if r.qualifier == "F8"), ""),
        # the parser keeps the last G1/9F, as a payer reading the claim would
        prior_authorization="".join([r.value for r in refs if r.qualifier in ("G1", "9F")][-1:]),
        diagnosis_codes=draw(
            st.lists(
                st.builds(
                    lambda q, c: f"{q}:{c}",
                    st.sampled_from(["ABK", "ABF", "BK", "BF"]),
                    codes(3, 7),
                ),
                max_size=14,
            )
        ),
        references=refs,
        other_payers=draw(
            st.lists(
                st.builds(
                    OtherPayer,
                    sequence=st.sampled_from(["P", "S", "T"]),
                    filing_indicator=st.sampled_from(["CI", "MB", "MC"]),
                    payer_id=codes(0, 10),
                    payer_name=st.just("") | texts(d),
                    paid=optional(money("0", "9999.99")),
                    adjustments=adjustments(with_quantity=False),
                ),
                max_size=2,
            )
        ),
        lines=lines,
    )


@st.composite
def submission(draw: Draw[Any], d: Delimiters, kind: str, control: str) -> ClaimSubmission:
    providers = draw(st.lists(nm1_entity(d, "85", block=True), min_size=1, max_size=2))
    subs = draw(st.lists(subscriber(d), min_size=1, max_size=3))
    claims = [
        draw(claim(d, kind, draw(st.sampled_from(providers)), draw(st.sampled_from(subs))))
        for _ in range(draw(st.integers(0, 5)))
    ]
    return ClaimSubmission(
        header=TransactionHeader("837", control, GUIDES_837[kind], kind, "", ""),
        kind=kind,
        purpose_code=draw(st.sampled_from(["00", "18"])),
        reference_id=draw(codes(1, 30)),
        created_date=draw(optional(dates())),
        submitter=draw(optional(nm1_entity(d, "41", block=True))),
        receiver=draw(optional(nm1_entity(d, "40", block=True))),
        claims=claims,
    )


@st.composite
def submission_case(draw: Draw[Any]) -> tuple[list[ClaimSubmission], Delimiters, str, Envelope]:
    d = draw(delimiters())
    kind = draw(st.sampled_from(sorted(GUIDES_837)))
    subs = [draw(submission(d, kind, f"{i + 1:04d}")) for i in range(draw(st.integers(1, 2)))]
    return subs, d, draw(st.sampled_from(["", "\n", "\r\n"])), draw(envelopes())


# --------------------------------------------------------------------------- round trips


def comparable(obj: Any) -> Any:
    """Models as plain data without positions and envelope bookkeeping (set by the parser)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: comparable(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.name not in ("segment_index", "header")
        }
    if isinstance(obj, list):
        return [comparable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: comparable(v) for k, v in obj.items()}
    return obj


def _check_envelope(result: parsers.ParseResult, d: Delimiters, env: Envelope, guide: str) -> None:
    [ic] = result.interchanges
    header = ic.interchange
    assert header.delimiters == d
    assert header.control_number == f"{env.interchange_control_number:09d}"
    assert (header.sender_id, header.receiver_id) == (env.sender_id, env.receiver_id)
    assert header.date == env.date
    assert header.usage_indicator == env.usage_indicator
    assert header.ack_requested == env.ack_requested
    [group] = ic.groups
    assert group.group.version == guide
    assert group.group.control_number == str(env.group_control_number)


@ROUND_TRIP
@given(remittance_case())
def test_835_round_trip(case: tuple[list[Remittance], Delimiters, str, Envelope]) -> None:
    remits, d, line_break, env = case
    data = write_835(remits, delimiters=d, line_break=line_break, envelope=env)
    assert data[:106].decode().endswith(d.segment)
    result = parsers.parse(data)
    _check_envelope(result, d, env, GUIDE_835)
    # BPR02 is |ΣCLP04 − ΣPLB|: balanced unless that difference was negative.
    expected = ["transaction_out_of_balance" for r in remits if _unbalanced(r)]
    assert [f.code for f in result.findings] == expected
    assert [r.header.control_number for r in result.remittances] == [
        r.header.control_number for r in remits
    ]
    assert comparable(result.remittances) == comparable(remits)


def _unbalanced(r: Remittance) -> bool:
    paid = sum((c.paid for c in r.claims), Decimal(0))
    return paid - sum((a.amount for a in r.provider_adjustments), Decimal(0)) != r.payment_amount


@ROUND_TRIP
@given(submission_case())
def test_837_round_trip(case: tuple[list[ClaimSubmission], Delimiters, str, Envelope]) -> None:
    subs, d, line_break, env = case
    data = write_837(subs, delimiters=d, line_break=line_break, envelope=env)
    result = parsers.parse(data)
    _check_envelope(result, d, env, GUIDES_837[subs[0].kind])
    assert result.findings == []
    assert [s.kind for s in result.claim_submissions] == [s.kind for s in subs]
    assert comparable(result.claim_submissions) == comparable(subs)


def test_837_kinds_get_their_own_groups() -> None:
    subs = [
        ClaimSubmission(TransactionHeader("837", "", "", kind, "", ""), kind)
        for kind in ("837P", "837I", "837P", "837D")
    ]
    env = Envelope(date=dt.date(2024, 1, 2), time="1230", group_control_number=7)
    result = parsers.parse(write_837(subs, envelope=env))
    assert result.findings == []
    [ic] = result.interchanges
    assert [(g.group.version, g.group.control_number, len(g.transactions)) for g in ic.groups] == [
        ("005010X222A1", "7", 2),
        ("005010X223A2", "8", 1),
        ("005010X224A2", "9", 1),
    ]


# --------------------------------------------------------------------------- damaged input

SEEDS = [
    p.read_bytes()
    for p in sorted((FIXTURES / "x12").iterdir())
    if p.suffix != ".md" and p.stat().st_size < 30_000
]
HANG_GUARD_SECONDS = 30


@contextmanager
def hang_guard() -> Iterator[None]:
    """Fail (rather than hang the suite) if one parse runs away; generous, not a benchmark."""

    def _fail(_signum: int, _frame: object) -> None:
        raise AssertionError(f"parse did not finish within {HANG_GUARD_SECONDS}s")

    previous = signal.signal(signal.SIGALRM, _fail)
    signal.setitimer(signal.ITIMER_REAL, HANG_GUARD_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@st.composite
def generated_file(draw: Draw[Any]) -> bytes:
    if draw(st.booleans()):
        remits, d, nl, env = draw(remittance_case())
        return write_835(remits, delimiters=d, line_break=nl, envelope=env)
    subs, d, nl, env = draw(submission_case())
    return write_837(subs, delimiters=d, line_break=nl, envelope=env)


@st.composite
def damaged(draw: Draw[Any]) -> bytes:
    seed = st.sampled_from(SEEDS)
    data = bytearray(draw(st.one_of(seed, seed, seed, generated_file())))
    for _ in range(draw(st.integers(1, 5))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "cut", "insert", "duplicate", "delimiter", "delete"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "duplicate":
            j = min(len(data), i + draw(st.integers(1, 400)))
            data[i:i] = data[i:j] * draw(st.integers(1, 3))
        elif op == "delimiter":
            data[i] = draw(st.sampled_from(b"*~:^|>\r\n \x00"))
        else:
            del data[i : i + draw(st.integers(1, 50))]
    return bytes(data)


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(damaged())
def test_damaged_input_only_raises_x12_errors(data: bytes) -> None:
    with hang_guard():
        result = outcome(data)
    if isinstance(result, parsers.X12Error):
        assert result.reason
        assert isinstance(result.location, parsers.Location)
    else:
        assert result.segment_count > 0


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_prefix_of_a_small_file(seed: int) -> None:
    """Each cut point of a real file: the classic partially-uploaded SFTP file."""
    data = SEEDS[seed]
    if len(data) > 2_500:
        data = data[:2_500]
    with hang_guard():
        for cut in range(len(data)):
            with suppress(parsers.X12Error):
                parsers.parse(data[:cut])


# --------------------------------------------------------------------------- writer details


def _segments(data: bytes, d: Delimiters = STANDARD_DELIMITERS) -> list[str]:
    return [s.strip() for s in data.decode().split(d.segment) if s.strip()]


def _one_claim_remit(adjustments: list[Adjustment]) -> Remittance:
    charge = Decimal("1000.10")
    paid = charge - sum((a.amount for a in adjustments), Decimal(0))
    claim = ClaimPayment("PCN1", "1", charge, paid, None, "12", "ICN1", adjustments=adjustments)
    return Remittance(
        TransactionHeader("835", "0001", "", "835", "", ""), "I", paid, "C", "CHK", claims=[claim]
    )


ENV = Envelope(date=dt.date(2024, 1, 2), time="1230")


def test_cas_holds_at_most_six_triplets_and_one_group() -> None:
    adj = [Adjustment("CO", str(i), Decimal(i)) for i in range(1, 9)]
    adj.append(Adjustment("PR", "2", Decimal("0.10")))
    data = write_835([_one_claim_remit(adj)], envelope=ENV)
    cas = [s for s in _segments(data) if s.startswith("CAS")]
    assert cas == ["CAS*CO*1*1**2*2**3*3**4*4**5*5**6*6", "CAS*CO*7*7**8*8", "CAS*PR*2*0.1"]
    assert parsers.parse(data).findings == []


def test_envelope_counts_and_fixed_width_isa() -> None:
    remits = [_one_claim_remit([]), _one_claim_remit([])]
    remits[1].header.control_number = "0001"  # duplicate: the writer renumbers it
    data = write_835(remits, envelope=ENV, line_break="\r\n")
    segs = _segments(data)
    assert len(segs[0]) + 1 == 106
    assert segs[0].endswith("*00501*000000001*0*P*:")
    assert segs[1] == "GS*HP*SENDER*RECEIVER*20240102*1230*1*X*005010X221A1"
    assert [s for s in segs if s.startswith(("ST", "SE", "GE", "IEA"))] == [
        "ST*835*0001",
        "SE*5*0001",
        "ST*835*0002",
        "SE*5*0002",
        "GE*2*1",
        "IEA*1*000000001",
    ]
    assert parsers.parse(data).findings == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("10.50", "10.5"),
        ("-0.00", "0"),
        ("100", "100"),
        ("1E+2", "100"),
        ("0.001", "0.001"),
        ("-12.30", "-12.3"),
    ],
)
def test_format_amount(value: str, text: str) -> None:
    assert format_amount(Decimal(value)) == text
    assert Decimal(text) == Decimal(value)


def test_value_holding_a_delimiter_is_refused() -> None:
    remit = _one_claim_remit([])
    remit.claims[0].patient_control_number = "A*B"
    with pytest.raises(X12WriteError, match="CLP01") as info:
        write_835([remit], envelope=ENV)
    assert "A*B" not in str(info.value)  # values may be PHI: never echoed


@pytest.mark.parametrize(
    ("d", "line_break"),
    [
        (Delimiters("*", "*", "^", "~"), ""),
        (Delimiters("A", ":", "^", "~"), ""),
        (Delimiters("*", ":", "", "~"), ""),
        (Delimiters("*", ":", "^", "\n"), "\n"),
        (Delimiters("*", ":", "^", "~"), "\t"),
    ],
    ids=["repeated", "alnum", "missing-repetition", "break-after-break", "bad-line-break"],
)
def test_bad_delimiters_are_refused(d: Delimiters, line_break: str) -> None:
    with pytest.raises(X12WriteError):
        write_835([_one_claim_remit([])], delimiters=d, line_break=line_break, envelope=ENV)


def test_newline_terminator_round_trips() -> None:
    d = Delimiters("|", ">", "^", "\n")
    data = write_835(
        [_one_claim_remit([Adjustment("CO", "45", Decimal(1))])], delimiters=d, envelope=ENV
    )
    result = parsers.parse(data)
    assert result.findings == []
    assert result.interchanges[0].interchange.delimiters == d
