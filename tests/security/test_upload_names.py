"""Attack: a NUL byte in a multipart upload's file name (issue 17, item 7).

PostgreSQL refuses NUL in text (psycopg raised, the upload answered 500) and SQLite stored it,
so the name later broke whatever read it. The upload must be a 400 problem+json on both
databases, with nothing stored or registered.
"""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.db.models import InboundFile
from tests.integration.test_api_support import Api
from tests.integration.x12gen import make_835


def _multipart(filename: bytes, data: bytes) -> tuple[bytes, str]:
    boundary = "gw-attack-boundary"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\n'
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _files(api: Api) -> int:
    with api.gw.db.read() as s:
        return s.execute(select(func.count()).select_from(InboundFile)).scalar_one()


def test_nul_byte_in_multipart_file_name_is_a_400(api: Api) -> None:
    """Attack: ``filename="a\\x00.835"`` in the multipart part header."""
    for name in (b"a\x00.835", b"\x00", b"claims.835\x00.exe"):
        body, ctype = _multipart(name, make_835(700 + len(name), claims=1))
        r = api.client.post(
            "/v1/files", content=body, headers={**api.auth("ops"), "Content-Type": ctype}
        )
        assert r.status_code == 400, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "nul_byte"
    assert _files(api) == 0
    # the same upload with a clean name is accepted, and keeps its name
    body, ctype = _multipart(b"a.835", make_835(799, claims=1))
    r = api.client.post(
        "/v1/files", content=body, headers={**api.auth("ops"), "Content-Type": ctype}
    )
    assert r.status_code == 201, r.text
    assert _files(api) == 1


def test_nul_byte_in_raw_upload_file_name_is_a_400(api: Api) -> None:
    """Attack: the raw-body upload's ``?filename=a%00.835`` (refused before routing)."""
    r = api.client.post(
        "/v1/files?filename=a%00.835", content=make_835(801, claims=1), headers=api.auth("ops")
    )
    assert r.status_code == 400
    assert r.json()["code"] == "nul_byte"
    assert _files(api) == 0


def test_undecodable_multipart_file_name_is_not_a_500(api: Api) -> None:
    """Attack: a file name of bytes that are not UTF-8 (``\\xff\\xfe``) or a lone surrogate
    once decoded; PostgreSQL must never see text it cannot store."""
    for name in (b"\xff\xfe.835", "\udcff.835".encode("utf-8", "surrogatepass")):
        body, ctype = _multipart(name, make_835(810 + len(name), claims=1))
        r = api.client.post(
            "/v1/files", content=body, headers={**api.auth("ops"), "Content-Type": ctype}
        )
        assert r.status_code in (201, 400), (name, r.status_code, r.text)
        if r.status_code == 400:
            assert r.headers["content-type"].startswith("application/problem+json")
