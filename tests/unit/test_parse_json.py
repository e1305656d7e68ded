"""``gateway parse --json`` streams the same document the whole-file parse gave; ``--ndjson``.

The old path built ``{"interchanges": to_jsonable(parse(data).interchanges), "findings": ...}``
and printed it with rich's ``print_json`` (``json.dumps`` with two-space indents). The streamed
document must parse to exactly that, for every sample and fixture file, and in ``--pretty`` be
the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

import parsers
from gateway.cli import app
from gateway.parse_json import ndjson_lines, write_document
from schemas.fast_serialize import dumps
from schemas.serialize import to_jsonable
from tests.conftest import FIXTURES, ROOT

SAMPLES = ROOT / "gateway" / "samples"
NOT_X12 = {".md", ".tsv", ".csv", ".json", ".yaml", ".yml"}
FILES = sorted(
    p for d in (SAMPLES, FIXTURES) for p in d.rglob("*") if p.is_file() and p.suffix not in NOT_X12
)
IDS = [p.relative_to(ROOT).as_posix() for p in FILES]
#: the pretty bytes are compared on files up to this size (all but the largest few), to keep the
#: unit suite quick; the layout code is the same for every size
PRETTY_CHECK_BYTES = 64 * 1024


def _old(data: bytes) -> dict[str, Any]:
    """The document as the whole-file path built it."""
    result = parsers.parse(data)
    return {
        "interchanges": to_jsonable(result.interchanges),
        "findings": [f.as_dict() for f in result.findings],
    }


def _streamed(data: bytes, pretty: bool = False) -> bytes:
    parts: list[bytes] = []
    doc = write_document(parsers.stream(data), parts.append, pretty)
    assert doc.late_changes == 0
    return b"".join(parts)


def test_the_files_are_there() -> None:
    assert len(FILES) > 100
    assert len([p for p in FILES if p.parent == SAMPLES]) >= 8


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_streamed_output_is_the_whole_file_document(path: Path) -> None:
    data = path.read_bytes()
    try:
        old = _old(data)
    except parsers.X12Error:
        with pytest.raises(parsers.X12Error):
            _streamed(data)
        return
    assert orjson.loads(_streamed(data)) == old
    if len(data) <= PRETTY_CHECK_BYTES or path.parent == SAMPLES:
        # --pretty is byte for byte what rich's print_json printed
        assert _streamed(data, pretty=True).decode() == (
            json.dumps(old, indent=2, ensure_ascii=False) + "\n"
        )
    # --ndjson: one line per claim, in order, with its interchange, group and transaction
    lines = list(ndjson_lines(parsers.stream(data)))
    expected = [
        (ic["interchange"], grp["group"], txn, claim)
        for ic in old["interchanges"]
        for grp in ic["groups"]
        for txn in grp["transactions"]
        for claim in txn["claims"]
    ]
    assert len(lines) == len(expected)
    for line, (ic, grp, txn, claim) in zip(lines, expected, strict=True):
        assert line.index(b"\n") == len(line) - 1
        row = orjson.loads(line)
        assert list(row) == ["interchange", "group", "transaction", "claim"]
        assert row["interchange"] == ic
        assert row["group"] == grp
        assert row["claim"] == claim
        context = {k: v for k, v in txn.items() if k not in ("claims", "provider_adjustments")}
        assert row["transaction"] == context


def test_cli_ndjson_line_count_is_the_claim_count() -> None:
    path = FIXTURES / "x12" / "nevada_medicaid.txt"
    claims = sum(len(t.claims) for t in parsers.parse(path.read_bytes()).transactions)
    result = CliRunner().invoke(app, ["parse", str(path), "--ndjson"])
    assert result.exit_code == 0, result.output
    assert claims == 3
    assert len(result.stdout_bytes.splitlines()) == claims


def test_cli_json_is_compact_off_a_terminal_and_pretty_when_asked() -> None:
    path = SAMPLES / "medicare-part-a.835"
    old = _old(path.read_bytes())
    compact = CliRunner().invoke(app, ["parse", str(path), "--json"])
    pretty = CliRunner().invoke(app, ["parse", str(path), "--json", "--pretty"])
    assert compact.exit_code == pretty.exit_code == 0
    assert compact.stdout_bytes.count(b"\n") == 1  # one line: not indented
    assert orjson.loads(compact.stdout_bytes) == old
    assert pretty.stdout == json.dumps(old, indent=2, ensure_ascii=False) + "\n"


def test_ndjson_and_json_together_are_a_usage_error() -> None:
    result = CliRunner().invoke(
        app, ["parse", str(SAMPLES / "medicare-part-a.835"), "--ndjson", "--json"]
    )
    assert result.exit_code == 2
    assert result.stdout_bytes == b""


def test_an_unreadable_file_stops_the_stream_with_a_typed_error() -> None:
    data = (SAMPLES / "medicare-part-a.835").read_bytes()
    cut = data[: data.index(b"SE*")]  # no SE, GE, IEA: truncated
    parts: list[bytes] = []
    with pytest.raises(parsers.TruncatedError):
        write_document(parsers.stream(cut), parts.append)
    assert b"".join(parts).startswith(b'{"interchanges":[{"interchange":')


def test_a_header_segment_after_the_claims_is_counted_and_reported(tmp_path: Path) -> None:
    data = (SAMPLES / "medicare-part-a.835").read_bytes()
    first_claim = data.index(b"CLP*")
    # (SE01 no longer counts right: a finding, not a fatal error)
    late = data[:first_claim] + data[first_claim:].replace(b"SE*", b"N1*PR*LATE PAYER~SE*", 1)
    parts: list[bytes] = []
    doc = write_document(parsers.stream(late), parts.append)
    assert doc.late_changes == 1
    streamed = orjson.loads(b"".join(parts))
    [txn] = streamed["interchanges"][0]["groups"][0]["transactions"]
    assert txn["payer"]["name"] != "LATE PAYER"  # the header as read before the first claim
    old = _old(late)
    assert old["interchanges"][0]["groups"][0]["transactions"][0]["payer"]["name"] == "LATE PAYER"
    path = tmp_path / "late.835"
    path.write_bytes(late)
    result = CliRunner().invoke(app, ["parse", str(path), "--json"])
    assert result.exit_code == 0
    assert "repeat header segments after their claims" in result.stderr


def test_fast_serializer_matches_to_jsonable_on_unusual_values() -> None:
    from decimal import Decimal

    from schemas import ClaimPayment
    from schemas.remittance import Adjustment, ServicePayment

    claim = ClaimPayment("P1", "1", Decimal("100"), Decimal("-0"), Decimal("1.005"), "12", "X")
    claim.drg_weight = Decimal("1.2345")
    claim.quantities = {"CA": Decimal("3"), "paid": Decimal("2.5")}
    claim.amounts = {"AU": Decimal("1E+2")}
    claim.adjustments = [Adjustment("CO", "45", Decimal("0.001"), Decimal("2"))]
    claim.services = [ServicePayment("HC:1", Decimal("5"), Decimal("5.00"))]
    assert orjson.loads(dumps(claim)) == to_jsonable(claim)
    assert orjson.loads(dumps([claim, claim])) == to_jsonable([claim, claim])


def test_times_are_iso_strings_in_both_views() -> None:
    # DTP*435*DT / DTP*096*TM give 837I claims an hour (schemas/json: "format": "time")
    import datetime as dt
    from decimal import Decimal

    from schemas import Claim

    claim = Claim("P1", Decimal("10"), "11", "B", "1")
    claim.admission_time = dt.time(8, 0)
    claim.discharge_time = dt.time(17, 30, 5, 250)
    view = to_jsonable(claim)
    assert (view["admission_time"], view["discharge_time"]) == ("08:00:00", "17:30:05.000250")
    assert orjson.loads(dumps(claim)) == view
