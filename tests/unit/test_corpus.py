"""Every file of the X12 corpus is either parsed or rejected with a typed, located error.

The corpus (tests/fixtures/corpus/x12, provenance in tests/fixtures/corpus/SOURCES.md) holds
valid files, old 4010 files, fragments without ISA, UTF-16 and deliberately broken inputs.
Whatever the file, the only acceptable outcomes are a ``ParseResult`` or an ``X12Error``
subclass with a reason and a ``Location``; any other exception is a parser bug.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import parsers
from parsers.x12.events import TransactionEnd
from schemas.claim import Claim
from schemas.remittance import ClaimPayment
from tests.conftest import CORPUS

FILES = sorted(p for p in CORPUS.rglob("*") if not p.is_dir())
IDS = [p.relative_to(CORPUS).as_posix() for p in FILES]


def test_corpus_is_there() -> None:
    # An empty list would make the suite vacuous.
    assert len(FILES) >= 100


def outcome(data: bytes) -> parsers.ParseResult | parsers.X12Error:
    """The parse result, or the typed error; any other exception propagates and fails."""
    try:
        return parsers.parse(data)
    except parsers.X12Error as exc:
        return exc


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_parsed_or_rejected_with_typed_error(path: Path) -> None:
    result = outcome(path.read_bytes())
    if isinstance(result, parsers.X12Error):
        assert result.reason.strip()
        assert isinstance(result.location, parsers.Location)
        assert result.code != parsers.X12Error.code  # a specific subclass, not the root
        return
    assert result.segment_count > 0
    assert result.interchanges
    for finding in result.findings:
        assert finding.code
        assert finding.message
        assert finding.severity in (parsers.ERROR, parsers.WARNING)
        assert isinstance(finding.location, parsers.Location)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_stream_agrees_with_parse(path: Path) -> None:
    data = path.read_bytes()
    result = outcome(data)
    if isinstance(result, parsers.X12Error):
        with pytest.raises(type(result)):
            list(parsers.stream(data))
        return
    reader = parsers.stream(data)
    claim_events = 0
    transaction_ends = 0
    for event in reader:
        if isinstance(event, ClaimPayment | Claim):
            claim_events += 1
        elif isinstance(event, TransactionEnd):
            transaction_ends += 1
    assert claim_events == sum(len(t.claims) for t in result.transactions)
    assert transaction_ends == len(result.transactions)
    assert [f.code for f in reader.findings.items] == [f.code for f in result.findings]
