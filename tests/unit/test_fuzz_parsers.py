"""Bounded fuzzing of the X12 and ledger parsers (the long campaign is tools/fuzz_campaign.py).

Structured mutations of real seed files (tests/fixtures/x12 and the corpus in
tests/fixtures/corpus/x12) must produce a result or one of our typed errors (``X12Error``,
``LedgerError``), never another exception, and each input must finish within
``BOUND_SECONDS``: a SIGALRM watchdog turns a hang into a test failure that names the input
instead of a stuck CI job.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parsers
from parsers.ledger import (
    CANONICAL,
    CANONICAL_COLUMNS,
    LedgerError,
    parse_ledger,
    read_header,
)
from tests.conftest import examples
from tools.fuzz_mutate import (
    INTERESTING,
    LEDGER_SEED_DIRS,
    X12_SEED_DIRS,
    load_seeds,
    mutate_csv,
    mutate_x12,
)
from tools.fuzz_targets import EXPECTED, LAYOUTS, ledger_target, x12_target

#: generous per-input bound: inputs are ≤ 64 KiB and parse in milliseconds
BOUND_SECONDS = 10.0
X12_SEEDS = load_seeds(X12_SEED_DIRS, max_len=64 * 1024)
LEDGER_SEEDS = load_seeds(LEDGER_SEED_DIRS)
FUZZ = settings(
    max_examples=examples(2000),
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class HangError(AssertionError):
    """An input ran longer than the watchdog bound."""


@contextmanager
def watchdog(seconds: float, data: bytes) -> Iterator[None]:
    """Fail (not hang) when the body runs longer than ``seconds``."""

    def fire(_sig: int, _frame: FrameType | None) -> None:
        raise HangError(f"input ran over {seconds} s: {data[:200]!r}... ({len(data)} bytes)")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check(target: Callable[[bytes], None], data: bytes) -> None:
    """Run ``target``: a result or a typed error is fine, anything else fails the test."""
    with watchdog(BOUND_SECONDS, data):
        try:
            target(data)
        except EXPECTED as exc:
            reason = getattr(exc, "reason", "")
        else:
            reason = "ok"
    assert reason, "a typed error without a reason"


def test_seed_corpora_present() -> None:
    assert len(X12_SEEDS) >= 5
    assert len(LEDGER_SEEDS) >= 3


@FUZZ
@given(seed=st.sampled_from(range(len(X12_SEEDS))), rnd=st.randoms(use_true_random=False))
def test_x12_structured_mutations(seed: int, rnd: random.Random) -> None:
    data = X12_SEEDS[seed]
    for _ in range(rnd.randrange(1, 4)):  # stack mutations so some go deep
        data = mutate_x12(data, rnd, X12_SEEDS, 64 * 1024)
    check(x12_target, data)


@FUZZ
@given(
    body=st.binary(max_size=2048),
    seed=st.sampled_from(range(len(X12_SEEDS))),
    cut=st.integers(min_value=0, max_value=4096),
)
def test_x12_valid_header_then_bytes(body: bytes, seed: int, cut: int) -> None:
    """A real ISA/GS/ST prefix followed by arbitrary bytes."""
    check(x12_target, X12_SEEDS[seed][:cut] + body)


@FUZZ
@given(data=st.binary(max_size=512))
def test_x12_raw_bytes(data: bytes) -> None:
    check(x12_target, data)


@FUZZ
@given(seed=st.sampled_from(range(len(LEDGER_SEEDS))), rnd=st.randoms(use_true_random=False))
def test_ledger_structured_mutations(seed: int, rnd: random.Random) -> None:
    data = LEDGER_SEEDS[seed]
    for _ in range(rnd.randrange(1, 4)):
        data = mutate_csv(data, rnd, LEDGER_SEEDS, 64 * 1024)
    check(ledger_target, data)


@FUZZ
@given(
    cells=st.lists(
        st.text(max_size=40), min_size=len(CANONICAL_COLUMNS), max_size=len(CANONICAL_COLUMNS) + 2
    )
)
def test_ledger_arbitrary_cells(cells: list[str]) -> None:
    """Any text in any canonical cell: row errors or rows, never a crash."""
    row = ",".join('"' + c.replace('"', '""') + '"' for c in cells)
    check(
        ledger_target,
        (",".join(CANONICAL_COLUMNS) + "\n" + row + "\n").encode("utf-8", "surrogatepass"),
    )


AMOUNTS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"\A[-+(]?\$?[0-9,]{0,40}(\.[0-9]{0,6})?([eE][-+]?[0-9]{1,12})?\)?\Z"),
    st.sampled_from([v.decode("latin-1") for v in INTERESTING]),
)
DATES = st.one_of(st.dates().map(str), st.from_regex(r"\A[0-9/-]{0,12}\Z"), st.text(max_size=12))


@settings(FUZZ, max_examples=examples(1000))
@given(
    amount=AMOUNTS,
    date=DATES,
    kind=st.sampled_from(["charge", "payment", "refund", "x"]),
    layout=st.sampled_from(range(len(LAYOUTS) + 1)),
)
def test_ledger_amount_and_date_cells(amount: str, date: str, kind: str, layout: int) -> None:
    """Money and date cells are where the parser does arithmetic: aim the fuzzing there."""
    lay = CANONICAL if layout == len(LAYOUTS) else LAYOUTS[layout]
    values = {
        "account_id": "A1",
        "patient_control_number": "P1",
        "posted_date": date,
        "type": kind,
        "party": "patient",
        "payer_id": "MCR",
        "amount": amount,
        "reference": "R1",
    }
    cols = list(lay.columns.items())
    d = lay.delimiter

    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'

    data = (
        d.join(cell(src) for _, src in cols)
        + "\n"
        + d.join(cell(values.get(canon, "")) for canon, _ in cols)
        + "\n"
    )
    raw = data.encode("utf-8", "surrogatepass")
    with watchdog(BOUND_SECONDS, raw), suppress(LedgerError):
        parse_ledger(raw, lay)


# Crashers the campaign found (fixed in parsers/ledger.py); kept as regressions.
HEADER = ",".join(CANONICAL_COLUMNS).encode() + b"\n"


@pytest.mark.parametrize(
    "amount",
    [
        b"1e30",
        b"1E+999999999",
        b"-1E999999999",
        b"(1E999999999)",
        b"99999999999999999999999999999.99",
        b"1000000000000",
        b"sNaN",
        b"-Infinity",
    ],
)
def test_ledger_huge_or_special_amounts_are_row_errors(amount: bytes) -> None:
    data = HEADER + b"A1,P1,2024-01-02,charge,patient,,%s,R\n" % amount
    result = parse_ledger(data)
    assert result.rows == []
    assert [e.column for e in result.errors] == ["amount"]


def test_ledger_largest_amount_still_accepted() -> None:
    result = parse_ledger(HEADER + b"A1,P1,2024-01-02,charge,patient,,999999999999.99,R\n")
    assert result.ok
    assert str(result.rows[0].amount) == "999999999999.99"


def test_ledger_field_over_csv_limit_is_a_typed_error() -> None:
    data = HEADER + b"A1,P1,2024-01-02,charge,patient,,1.00," + b"x" * 200_000 + b"\n"
    with pytest.raises(LedgerError) as err:
        parse_ledger(data)
    assert "not a readable CSV" in err.value.reason
    assert err.value.line >= 2


def test_ledger_header_sniff_does_not_split_a_character_at_64k() -> None:
    filler = ("é" * 40_000).encode()  # two bytes each: the 64 KiB cut falls mid-character
    data = HEADER + b"A1,P1,2024-01-02,charge,patient,,1.00," + filler + b"\n"
    assert read_header(data) == list(CANONICAL_COLUMNS)


def test_watchdog_turns_a_hang_into_a_failure() -> None:
    def slow(_data: bytes) -> None:
        signal.pause()

    with pytest.raises(HangError), watchdog(0.2, b"x"):
        slow(b"x")


def test_x12_truncations_of_every_seed() -> None:
    """Every seed cut at 64 points: the file ends anywhere without a crash."""
    for data in X12_SEEDS:
        step = max(1, len(data) // 64)
        for cut in range(0, len(data), step):
            check(x12_target, data[:cut])


def test_x12_mutations_are_not_all_rejected_early() -> None:
    """Guard against a useless fuzzer: a fair share of mutants must parse past the envelope."""
    rnd = random.Random(7)
    parsed = 0
    for _ in range(300):
        data = mutate_x12(rnd.choice(X12_SEEDS), rnd, X12_SEEDS, 64 * 1024)
        try:
            result = parsers.parse(data)
        except parsers.X12Error:
            continue
        parsed += bool(result.transactions)
    assert parsed >= 30
