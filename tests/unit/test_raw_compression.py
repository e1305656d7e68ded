"""The zstd codec of the database raw store (pure: bytes in, bytes out)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.store.base import BlobCorruptError
from gateway.store.compress import (
    STORED_AS_IS,
    ZSTD,
    codec_for,
    codec_for_data,
    codec_from_setting,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "x12"


def _x12_chunks(n: int, size: int = 64 * 1024) -> list[bytes]:
    text = b"".join(p.read_bytes() for p in sorted(FIXTURE.glob("*.83[57]")))
    data = (text * (n * size // len(text) + 1))[: n * size]
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_one_frame_per_chunk_in_order_and_back() -> None:
    chunks = _x12_chunks(20)  # more than the compressing threads have in hand at once
    stored = list(ZSTD.encode(chunks))
    assert len(stored) == len(chunks)
    assert sum(map(len, stored)) * 3 < sum(map(len, chunks))  # X12 text compresses well
    # each stored chunk decodes to exactly its own input: nothing is held back
    assert list(ZSTD.decode(stored)) == chunks


def test_decoding_does_not_depend_on_how_the_bytes_are_cut() -> None:
    chunks = _x12_chunks(4)
    joined = b"".join(ZSTD.encode(chunks))
    recut = [joined[i : i + 1000] for i in range(0, len(joined), 1000)]
    assert b"".join(ZSTD.decode(recut)) == b"".join(chunks)


def test_incompressible_and_empty_round_trip() -> None:
    noise = [os.urandom(100_000) for _ in range(3)]
    assert b"".join(ZSTD.decode(ZSTD.encode(noise))) == b"".join(noise)
    assert list(ZSTD.encode([])) == []
    assert list(ZSTD.decode([])) == []


def test_one_shot_matches_the_stream_format() -> None:
    data = b"ISA*00*small file~" * 100
    assert b"".join(ZSTD.decode([ZSTD.encode_one(data)])) == data


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: [*s[:-1], s[-1][:-5]], "truncated (stored chunk 2 ends inside a frame)"),
        (lambda s: [s[0][:4] + b"\xff" * 40 + s[0][44:], *s[1:]], "damaged at stored chunk 0"),
        (lambda s: [*s[:2], b"\x00" * 7 + s[2][7:]], "damaged at stored chunk 2"),
    ],
)
def test_damage_is_a_clear_corrupt_error(
    damage: Callable[[list[bytes]], list[bytes]], message: str
) -> None:
    stored = list(ZSTD.encode(_x12_chunks(3)))
    with pytest.raises(BlobCorruptError, match=re.escape(message)):
        list(ZSTD.decode(damage(stored)))


def test_codec_names() -> None:
    assert codec_for(None) is STORED_AS_IS
    assert codec_for("zstd") is ZSTD
    assert codec_from_setting("none").name is None
    with pytest.raises(BlobCorruptError, match="unknown codec 'brotli'"):
        codec_for("brotli")
    with pytest.raises(ConfigError, match="not one of none, zstd"):
        codec_from_setting("gzip")


def test_files_that_do_not_compress_are_stored_as_is() -> None:
    assert codec_for_data(ZSTD, _x12_chunks(1)[0]) is ZSTD
    assert codec_for_data(ZSTD, os.urandom(300_000)) is STORED_AS_IS  # zipped, encrypted...
    assert codec_for_data(ZSTD, b"") is ZSTD
    assert codec_for_data(STORED_AS_IS, _x12_chunks(1)[0]) is STORED_AS_IS
