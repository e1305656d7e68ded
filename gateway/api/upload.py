"""Reading an upload without trusting its size: streamed to a bounded spool, then accepted.

The body (raw, or the ``file`` part of a multipart form) is counted as it arrives and refused
with 413 the moment it passes ``max_upload_bytes``. Only then is it sniffed and handed to the
same store-then-register path every intake channel uses, in the same transaction as the record
of which key uploaded it and the request's audit entry (``fold_audit``: one write transaction
per upload, not two).

Memory: a raw body that declares its length, up to ``MEMORY_BODY_MAX``, is held in memory while
the process-wide ``SpoolBudget`` allows (so a 2 MB file is copied once, to the raw store, not
first to a temp file); anything else keeps at most 1 MiB in memory and rolls over to disk. A
multipart file is handed on in the spool the form parser already wrote, not copied again.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from typing import IO

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from gateway import audit
from gateway.api.deps import AppContext, file_scope
from gateway.api.keys import Principal
from gateway.api.middleware import fold_audit, serialized_write
from gateway.api.problems import ApiError
from gateway.api.sniff import HEAD_BYTES, Sniffed, sniff
from gateway.api.tables import ApiUpload
from gateway.db.models import InboundFile
from gateway.db.types import tbl, utcnow
from gateway.ingest import binding, provider_scan
from gateway.intake.service import AcceptResult, register
from gateway.logging import get_logger
from gateway.reconcile import ledger_ingest
from gateway.store.base import CHUNK, TransactionalRawStore

log = get_logger("gateway.api.upload")
SPOOL_MEMORY = 1024 * 1024
#: raw bodies up to this size (declared by Content-Length) may be held wholly in memory...
MEMORY_BODY_MAX = 8 * 1024 * 1024
#: ...while all such bodies of the process together stay under this
MEMORY_BUDGET = 128 * 1024 * 1024
#: multipart framing (boundaries, part headers) allowed on top of the file itself
MULTIPART_SLACK = 64 * 1024


class BodyTooLargeError(Exception):
    pass


def too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"the upload is larger than the maximum of {limit} bytes", code="file_too_large"
    )


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


class SpoolBudget:
    """Bytes of upload bodies held in memory by this process (bounded by ``MEMORY_BUDGET``)."""

    def __init__(self, total: int = MEMORY_BUDGET) -> None:
        self.total = total
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self.used + n > self.total:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used -= n


BUDGET = SpoolBudget()


class _BudgetedBody(io.BytesIO):
    """A body held in memory; its reservation in ``BUDGET`` ends when it is closed."""

    def __init__(self, data: bytes, reserved: int) -> None:
        super().__init__(data)  # shares ``data``'s buffer: no copy
        self._reserved = reserved

    def close(self) -> None:
        try:
            super().close()
        finally:
            reserved, self._reserved = self._reserved, 0
            if reserved:
                BUDGET.give(reserved)


async def _spool_stream(chunks: AsyncIterator[bytes], declared: int | None = None) -> IO[bytes]:
    """The body, in memory when its declared length and the budget allow, else spooled.

    In memory the chunks are joined once at the end: writing them one by one into a growing
    buffer was the largest single cost (under the GIL) of a 2 MB upload.
    """
    if (
        declared is not None
        and SPOOL_MEMORY < declared <= MEMORY_BODY_MAX
        and BUDGET.take(declared)
    ):
        parts: list[bytes] = []
        try:
            async for chunk in chunks:
                parts.append(chunk)
        except BaseException:
            BUDGET.give(declared)
            raise
        return _BudgetedBody(b"".join(parts), declared)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115  caller closes
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
            check_name(name)
            size = int(declared) if declared is not None and declared.isdigit() else None
            return await _spool_stream(bounded.stream(), size), name
        form = await bounded.form(max_files=1, max_fields=5)
    except BodyTooLargeError:
        raise too_large(limit) from None
    part = form.get("file")
    if not isinstance(part, UploadFile):
        await form.close()
        raise ApiError(
            422, "the multipart form needs a file in the field 'file'", code="missing_file_field"
        )
    name = part.filename or ""
    try:
        check_name(name)
    except ApiError:
        await form.close()
        raise
    # the parser's own spool becomes ours (the caller closes it): no second copy of the file;
    # the other fields are plain strings with nothing to close
    await part.seek(0)
    return part.file, name


def check_name(name: str) -> None:
    """Refuse a file name no database column can hold: NUL (PostgreSQL refuses it in text,
    SQLite stored it) or text that is not valid Unicode (a lone surrogate). A 400, never a 500.

    The raw-body ``?filename=`` is checked for NUL before routing (``RejectNulMiddleware``);
    a multipart name arrives inside the body, so it is checked here.
    """
    if "\x00" in name:
        raise ApiError(400, "the file name contains a NUL byte", code="nul_byte")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "the file name is not valid text", code="bad_file_name") from None


def check_content(spool: IO[bytes]) -> Sniffed:
    head = spool.read(HEAD_BYTES)
    spool.seek(0)
    verdict = sniff(head)
    if not verdict.ok:
        raise ApiError(415, verdict.reason, code="unsupported_content")
    return verdict


_UPLOADS = tbl(ApiUpload)
_NEW_UPLOAD = {
    "postgresql": postgresql.insert(_UPLOADS).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(_UPLOADS).on_conflict_do_nothing(),
}


def _record_upload(session: Session, file_id: int, key_pk: int) -> None:
    session.execute(
        _NEW_UPLOAD[session.get_bind().dialect.name],
        {"file_id": file_id, "api_key_id": key_pk, "uploaded_at": utcnow()},
    )


def accept_upload(
    ctx: AppContext, spool: IO[bytes], name: str, principal: Principal, kind: str = ""
) -> AcceptResult:
    """Check the provider binding, store durably and register, recording the uploading key.

    With a store that lives in the registry database the bytes, the registry row and the
    upload record commit in one transaction; otherwise the bytes are durable before the row.
    A provider-scoped key's X12 is scanned first (``gateway.ingest.binding``): a file of
    another provider is refused before anything is stored.
    """
    limit = ctx.settings.max_upload_bytes
    store = ctx.store
    own = principal.provider_key
    try:
        if own is not None and kind != "ledger":
            _check_binding(spool, own)
        if isinstance(store, TransactionalRawStore):
            with ctx.db.write() as s:
                blob = store.put_in(s, spool, max_bytes=limit)  # type: ignore[arg-type]
                result = _register_upload(s, blob.sha256, blob.size, name, principal, kind)
        else:
            # bytes durable (fsync'd, renamed, directory fsync'd) before the row commits
            blob = store.put(spool, max_bytes=limit)  # type: ignore[arg-type]
            with serialized_write(ctx.db) as s:
                result = _register_upload(s, blob.sha256, blob.size, name, principal, kind)
    except _RefusedError as refused:
        _audit_refusal(ctx, principal, refused)
        raise refused.error from None
    finally:
        spool.close()
    log.info(
        "file_uploaded",
        file_id=result.file_id,
        sha256=blob.sha256[:12],
        size=blob.size,
        duplicate=result.duplicate,
        key=principal.name,
    )
    return result


class _RefusedError(Exception):
    """An upload refused for its provider; audited in a transaction of its own."""

    def __init__(self, own: str, reason: str, sha256: str | None, size: int) -> None:
        super().__init__(reason)
        self.reason, self.sha256, self.size = reason, sha256, size
        self.error = ApiError(
            403,
            f"this key uploads for provider {own} only: {reason}; nothing was stored",
            code=binding.CODE,
        )


def _check_binding(spool: IO[bytes], own: str) -> None:
    """Scan the spooled body (a chunk at a time) for the providers it names."""
    digest = hashlib.sha256()
    size = 0

    def chunks() -> Iterator[bytes]:
        nonlocal size
        while chunk := spool.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            yield chunk

    found = provider_scan.scan(chunks())
    for _ in chunks():  # the rest, for the audit entry's sha256
        pass
    spool.seek(0)
    reason = found.verdict(own)
    if reason is not None:
        raise _RefusedError(own, reason, digest.hexdigest(), size)


def _audit_refusal(ctx: AppContext, principal: Principal, refused: _RefusedError) -> None:
    with serialized_write(ctx.db) as s:
        audit.record(
            s,
            actor=principal.actor,
            action="upload_refused",
            outcome=binding.CODE,
            reason=refused.reason,
            details={
                "key": principal.name,
                "provider": principal.provider_key,
                "sha256": refused.sha256,
                "size": refused.size,
            },
        )
        fold_audit(s, principal, 403, None)


def _visible(s: Session, file_id: int, principal: Principal) -> bool:
    cond = file_scope(principal)
    stmt = select(InboundFile.id).where(InboundFile.id == file_id)
    return s.execute(stmt if cond is None else stmt.where(cond)).first() is not None


def _register_upload(
    s: Session, sha256: str, size: int, name: str, principal: Principal, kind: str = ""
) -> AcceptResult:
    own = principal.provider_key
    # a scoped key's ledger is its provider's own record (no provider in the bytes to bind)
    owner = own if kind == "ledger" else None
    result = register(
        s,
        sha256=sha256,
        size=size,
        source=f"api:{principal.name}"[:64],
        original_name=name[:512],
        actor=principal.actor,
        owner=owner,
    )
    if own is not None:
        result = _bind(s, result, principal, own, kind)
    _record_upload(s, result.file_id, principal.id)
    # the route answers 200 for a duplicate and 201 for a new file
    fold_audit(s, principal, 200 if result.duplicate else 201, result.file_id)
    return result


def _bind(
    s: Session, result: AcceptResult, principal: Principal, own: str, kind: str
) -> AcceptResult:
    """A scoped key's upload: its ledger is declared its provider's; a duplicate reveals nothing.

    A ledger's identity includes the provider (``register(owner=...)``), so its duplicate is
    always this provider's own earlier upload. Same X12 bytes already registered but not
    visible to this key: the scan proved every transaction this provider's, so it is this
    provider's file received over another channel and not yet parsed; it is shown. Should the
    registry have filed it under another provider (a scan that disagrees with the parser), it
    is refused like a foreign file.
    """
    if result.duplicate and not _visible(s, result.file_id, principal):
        provider = s.execute(
            select(InboundFile.provider_id).where(InboundFile.id == result.file_id)
        ).scalar_one()
        if kind == "ledger" or provider not in (None, binding.provider_for_key(s, own)):
            raise _RefusedError(own, "it names another provider", result.sha256, result.size)
    if kind == "ledger" and not result.duplicate:
        ledger_ingest.declare(s, result.file_id, binding.provider_for_key(s, own), principal.actor)
    return result


__all__ = ["accept_upload", "check_content", "check_name", "read_upload", "too_large"]
