"""A stored file whose bytes no longer match their sha256 is reported as corrupt, even when the
corruption also breaks the X12 the parser reads first (the hash of a stream is known at its end).
"""

from __future__ import annotations

from pathlib import Path

from gateway.ingest.replay import process_now
from gateway.intake import accept_bytes
from gateway.store import FileRawStore
from tests.integration.helpers import Gateway

FIXTURE = Path(__file__).parents[1] / "fixtures" / "x12" / "medicare-part-a.835"


def _many(one: bytes) -> bytes:
    """Interchanges enough for several MiB, so the parser's error comes well before the end."""
    return one.rstrip(b"\r\n") * (4 * 1024 * 1024 // len(one) + 1)


def _broken(data: bytes) -> bytes:
    """The second interchange's ISA names no segment (same length overall): fatal there."""
    second = data.index(b"ISA", 10)
    return data[:second] + b"IS@" + data[second + 3 :]


def test_tampered_blob_that_breaks_the_isa_is_raw_corrupt(gw: Gateway, tmp_path: Path) -> None:
    """Attack: someone with disk access edits a stored 835 so that an interchange early in it
    no longer parses; the worker must not blame the sender (an X12 error a replay would
    repeat) but the store, although the parser stops long before the end of the stream."""
    store = FileRawStore(tmp_path / "plain-raw")  # no encryption: the bytes can be edited
    data = _many(FIXTURE.read_bytes())
    res = accept_bytes(gw.db, store, data, source="test", original_name="a.835")
    path = store.path_for(res.sha256)
    path.chmod(0o600)
    path.write_bytes(_broken(data))
    report = process_now(gw.db, store, gw.settings, res.file_id)
    assert report.state == "failed"
    assert report.error_code == "raw_corrupt", report.error_message


def test_untampered_bad_x12_keeps_its_x12_error(gw: Gateway, tmp_path: Path) -> None:
    """The peer: the same broken bytes sent as they are stay an X12 error of the sender's."""
    store = FileRawStore(tmp_path / "plain-raw")
    data = _broken(_many(FIXTURE.read_bytes()))
    res = accept_bytes(gw.db, store, data, source="test", original_name="a.835")
    report = process_now(gw.db, store, gw.settings, res.file_id)
    assert report.state == "failed"
    assert report.error_code not in (None, "raw_corrupt")
