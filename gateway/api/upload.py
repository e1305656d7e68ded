"""Reading an upload without trusting its size: streamed to a bounded spool, then accepted.

The body (raw, or the ``file`` part of a multipart form) is counted as it arrives and refused
with 413 the moment it passes ``max_upload_bytes``; at most 1 MiB of it is ever held in memory
(``SpooledTemporaryFile`` rolls over to disk). Only then is it sniffed and handed to the same
store-then-register path every intake channel uses, in the same transaction as the record of
which key uploaded it.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from gateway.api.deps import AppContext
from gateway.api.keys import Principal
from gateway.api.problems import ApiError
from gateway.api.sniff import HEAD_BYTES, Sniffed, sniff
from gateway.api.tables import ApiUpload
from gateway.db.models import tbl, utcnow
from gateway.intake.service import AcceptResult, register
from gateway.logging import get_logger
from gateway.store.base import TransactionalRawStore

log = get_logger("gateway.api.upload")
SPOOL_MEMORY = 1024 * 1024
#: multipart framing (boundaries, part headers) allowed on top of the file itself
MULTIPART_SLACK = 64 * 1024


class BodyTooLargeError(Exception):
    pass


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the upload is larger than the maximum of {limit} bytes",
                    code="file_too_large")


def limited_request(request: Request, cap: int) -> Request:
    """A view of ``request`` whose body raises ``BodyTooLargeError`` past ``cap`` bytes."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > cap:
                raise BodyTooLargeError
        return message

    return Request(request.scope, receive)


async def _spool_stream(chunks: AsyncIterator[bytes]) -> IO[bytes]:
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
    try:
        async for chunk in chunks:
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


async def read_upload(request: Request, limit: int) -> tuple[IO[bytes], str]:
    """(spooled body, original file name) of a raw or multipart upload, bounded by ``limit``."""
    ctype = request.headers.get("content-type", "")
    multipart = ctype.startswith("multipart/form-data")
    cap = limit + (MULTIPART_SLACK if multipart else 0)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise too_large(limit)
    bounded = limited_request(request, cap)
    try:
        if not multipart:
            name = request.query_params.get("filename", "")
            return await _spool_stream(bounded.stream()), name
        async with bounded.form(max_files=1, max_fields=5) as form:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise ApiError(422, "the multipart form needs a file in the field 'file'",
                               code="missing_file_field")
            await part.seek(0)
            spool = await _spool_stream(_chunks(part))
            return spool, part.filename or ""
    except BodyTooLargeError:
        raise too_large(limit) from None


async def _chunks(part: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await part.read(SPOOL_MEMORY):
        yield chunk


def check_content(spool: IO[bytes]) -> Sniffed:
    head = spool.read(HEAD_BYTES)
    spool.seek(0)
    verdict = sniff(head)
    if not verdict.ok:
        raise ApiError(415, verdict.reason, code="unsupported_content")
    return verdict


def _record_upload(session: Session, file_id: int, key_pk: int) -> None:
    values = {"file_id": file_id, "api_key_id": key_pk, "uploaded_at": utcnow()}
    table = tbl(ApiUpload)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(table).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())


def accept_upload(ctx: AppContext, spool: IO[bytes], name: str,
                  principal: Principal) -> AcceptResult:
    """Store durably and register, recording the uploading key.

    With a store that lives in the registry database the bytes, the registry row and the
    upload record commit in one transaction; otherwise the bytes are durable before the row.
    """
    limit = ctx.settings.max_upload_bytes
    store = ctx.store
    try:
        if isinstance(store, TransactionalRawStore):
            with ctx.db.write() as s:
                blob = store.put_in(s, spool, max_bytes=limit)  # type: ignore[arg-type]
                result = _register_upload(s, blob.sha256, blob.size, name, principal)
        else:
            blob = store.put(spool, max_bytes=limit)  # type: ignore[arg-type]
            with ctx.db.write() as s:
                result = _register_upload(s, blob.sha256, blob.size, name, principal)
    finally:
        spool.close()
    log.info("file_uploaded", file_id=result.file_id, sha256=blob.sha256[:12], size=blob.size,
             duplicate=result.duplicate, key=principal.name)
    return result


def _register_upload(s: Session, sha256: str, size: int, name: str,
                     principal: Principal) -> AcceptResult:
    result = register(s, sha256=sha256, size=size, source=f"api:{principal.name}"[:64],
                      original_name=name[:512], actor=principal.actor)
    _record_upload(s, result.file_id, principal.id)
    return result


__all__ = ["accept_upload", "check_content", "read_upload", "too_large"]
