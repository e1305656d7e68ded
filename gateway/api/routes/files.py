"""Files: upload, list, detail with history and findings, raw download, replay, acks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import Select, func, select

from gateway.api.acks import render_acks
from gateway.api.deps import AnyRole, Ctx, OpsOnly, Uploaders, file_scope
from gateway.api.keys import Principal
from gateway.api.problems import ApiError, TransferAbortedError, problem_responses
from gateway.api.schemas import (
    AcksOut,
    FileDetail,
    FileEventOut,
    FileSummary,
    Page,
    ReplayRequest,
    ReplayResult,
    UploadResult,
)
from gateway.api.upload import accept_upload, check_content, read_upload
from gateway.db.models import FileEvent, InboundFile, Provider
from gateway.ingest.replay import request_replay, resend_links
from gateway.logging import get_logger
from gateway.store.base import CHUNK, BlobCorruptError
from schemas.states import FileState

router = APIRouter(prefix="/v1", tags=["files"])
F = InboundFile
#: file ids are 32-bit INTEGER keys: a larger number is a 422, not a database overflow (500)
#: (found by the schemathesis campaign, tests/integration/test_api_fuzz.py)
FileId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
log = get_logger("gateway.api.files")
#: raw files up to this size are read and verified whole before the first byte goes out
VERIFY_FIRST_BYTES = 8 * 1024 * 1024


def _corrupt(file_id: int, exc: BlobCorruptError) -> ApiError:
    log.error("raw_file_corrupt", file_id=file_id, error_code=exc.code)
    return ApiError(
        500,
        f"the stored bytes of file {file_id} fail their integrity check "
        f"({exc.code}); restore them from a backup or have the file sent again",
        code="stored_file_corrupt",
    )


def _verified_chunks(stream: IO[bytes], file_id: int, size: int) -> Iterator[bytes]:
    """The chunks of a large download, the last one held back until the sha256 checked out.

    The reader verifies at EOF; a mismatch (or more or fewer bytes than recorded) aborts the
    transfer before its last chunk, so the client sees fewer bytes than Content-Length (an
    incomplete transfer), never a clean 200 with wrong bytes.
    """
    sent = 0
    held = b""
    try:
        with stream:
            while chunk := stream.read(CHUNK):
                if sent + len(held) + len(chunk) > size:
                    raise BlobCorruptError(f"raw file of file {file_id} is longer than recorded")
                if held:
                    yield held
                    sent += len(held)
                held = chunk
        if sent + len(held) != size:
            raise BlobCorruptError(f"raw file of file {file_id} is shorter than recorded")
    except BlobCorruptError as exc:
        log.error(
            "raw_download_aborted", file_id=file_id, sent=sent, size=size, error_code=exc.code
        )
        raise TransferAbortedError(f"download of file {file_id} aborted: {exc.code}") from exc
    yield held


def scoped(stmt: Select[Any], principal: Principal) -> Select[Any]:
    cond = file_scope(principal)
    return stmt if cond is None else stmt.where(cond)


def load_file(ctx: Ctx, principal: Principal, file_id: int) -> InboundFile:
    """The file if it exists and ``principal`` may see it; 404 otherwise (no existence leak)."""
    with ctx.db.read() as s:
        row: InboundFile | None = s.execute(
            scoped(select(F).where(F.id == file_id), principal)
        ).scalar_one_or_none()
    if row is None:
        raise ApiError(404, f"no file with id {file_id}", code="file_not_found")
    return row


@router.post(
    "/files",
    status_code=201,
    response_model=UploadResult,
    summary="Upload an 835/837 or ledger CSV (multipart field 'file', or the raw body)",
    responses={
        200: {"model": UploadResult, "description": "Duplicate of an existing file"},
        **problem_responses(401, 403, 413, 415, 422),
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "text/plain": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
)
async def upload_file(
    request: Request, response: Response, ctx: Ctx, principal: Uploaders
) -> UploadResult:
    """Same bytes again return the existing id with ``duplicate: true`` (HTTP 200).

    An uploader key uploads for its provider only: an 835/837 naming another provider (or
    none) is refused with 403 ``provider_mismatch`` before anything is stored, and a ledger
    it uploads is its provider's (a record of its own, whoever sent the same bytes).
    """
    spool, name = await read_upload(request, ctx.settings.max_upload_bytes)
    try:
        verdict = check_content(spool)
    except BaseException:
        spool.close()
        raise
    result = await run_in_threadpool(accept_upload, ctx, spool, name, principal, verdict.kind)
    request.state.file_id = result.file_id
    if result.duplicate:
        response.status_code = 200
    return UploadResult(
        id=result.file_id,
        state=result.state,
        duplicate=result.duplicate,
        sha256=result.sha256,
        size=result.size,
        kind=verdict.kind,
    )


@router.get("/files", response_model=Page[FileSummary], responses=problem_responses(401, 403))
def list_files(
    ctx: Ctx,
    principal: AnyRole,
    state: Annotated[str | None, Query(description="received|processing|processed|failed")] = None,
    source: Annotated[
        str | None, Query(description="Channel/partner, e.g. api:NAME, sftp:X")
    ] = None,
    kind: Annotated[str | None, Query(description="835, 837, unknown")] = None,
    received_from: Annotated[dt.date | None, Query(description="Received on/after (UTC)")] = None,
    received_to: Annotated[dt.date | None, Query(description="Received on/before (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # unbounded: a 500 (overflow)
) -> Page[FileSummary]:
    """Newest first."""
    stmt = scoped(select(F), principal)
    if state:
        stmt = stmt.where(F.state == state)
    if source:
        stmt = stmt.where(F.source == source)
    if kind:
        stmt = stmt.where(F.kind == kind)
    if received_from:
        stmt = stmt.where(F.received_at >= dt.datetime.combine(received_from, dt.time(), dt.UTC))
    if received_to:
        stmt = stmt.where(
            F.received_at
            < dt.datetime.combine(received_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        )
    with ctx.db.read() as s:
        total = s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = s.execute(stmt.order_by(F.id.desc()).limit(limit).offset(offset)).scalars()
        items = [FileSummary.model_validate(r) for r in rows]
    return Page[FileSummary](items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/files/{file_id}", response_model=FileDetail, responses=problem_responses(401, 403, 404)
)
def get_file(file_id: FileId, ctx: Ctx, principal: AnyRole) -> FileDetail:
    """Processing history (every state change), the findings, and 835 resend links."""
    row = load_file(ctx, principal, file_id)
    with ctx.db.read() as s:
        events = (
            s.execute(select(FileEvent).where(FileEvent.file_id == file_id).order_by(FileEvent.id))
            .scalars()
            .all()
        )
        provider_key = (
            s.execute(
                select(Provider.key).where(Provider.id == row.provider_id)
            ).scalar_one_or_none()
            if row.provider_id
            else None
        )
        links = resend_links(s, file_id)
    base = FileSummary.model_validate(row).model_dump()
    return FileDetail(
        **base,
        error_message=row.error_message,
        error_location=row.error_location,
        findings=row.findings or [],
        provider_key=provider_key,
        history=[FileEventOut.model_validate(e) for e in events],
        resend_of=links.resend_of,
        resent_by=links.resent_by,
    )


@router.get(
    "/files/{file_id}/raw",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "The exact bytes received",
        },
        **problem_responses(401, 403, 404, 500),
    },
)
def download_raw(file_id: FileId, ctx: Ctx, principal: OpsOnly) -> Response:
    """The stored bytes, verified against their sha256 (ops only: raw files carry PHI).

    Bytes that fail verification are a 500 ``stored_file_corrupt`` before any body byte (files
    up to ``VERIFY_FIRST_BYTES``), or an aborted, visibly incomplete transfer (larger ones).
    """
    row = load_file(ctx, principal, file_id)
    headers = {"Content-Disposition": f'attachment; filename="file-{file_id}.x12"'}
    if row.size <= VERIFY_FIRST_BYTES:
        try:
            data = ctx.store.read(row.sha256)
        except BlobCorruptError as exc:
            raise _corrupt(file_id, exc) from exc
        if len(data) != row.size:
            raise _corrupt(file_id, BlobCorruptError("size differs from the registry"))
        return Response(data, media_type="application/octet-stream", headers=headers)
    try:
        stream = ctx.store.open(row.sha256)
    except BlobCorruptError as exc:
        raise _corrupt(file_id, exc) from exc
    return StreamingResponse(
        _verified_chunks(stream, file_id, row.size),
        media_type="application/octet-stream",
        headers={**headers, "Content-Length": str(row.size)},
    )


@router.post(
    "/files/{file_id}/replay",
    status_code=202,
    response_model=ReplayResult,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def replay_file(
    file_id: FileId, body: ReplayRequest, request: Request, ctx: Ctx, principal: OpsOnly
) -> ReplayResult:
    """Queue a failed (or processed) file for reprocessing from its stored bytes; audited."""
    load_file(ctx, principal, file_id)
    previous = request_replay(
        ctx.db, file_id, actor=principal.actor, reason=body.reason, force=body.force
    )
    request.state.file_id = file_id
    return ReplayResult(id=file_id, previous_state=previous, state=FileState.RECEIVED)


@router.get(
    "/files/{file_id}/acks", response_model=AcksOut, responses=problem_responses(401, 403, 404, 409)
)
def file_acks(file_id: FileId, ctx: Ctx, principal: AnyRole) -> AcksOut:
    """TA1/999 acknowledgments for the file, as the worker rendered them when it processed it."""
    row = load_file(ctx, principal, file_id)
    return render_acks(ctx, row)
