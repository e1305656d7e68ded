"""Request middleware (pure ASGI): request id, one JSON log line per request, audit of
every mutating call, and a last-resort 500 that never leaks a traceback.

The request id comes from ``X-Request-ID`` when the caller sends a sane one, else a new one;
it is bound into structlog's context for every line logged while serving the request and
echoed in the response. A mutating call (POST/PUT/PATCH/DELETE) made with a valid key (or
console session) is written to the audit log with the key's name and the response status,
whatever the outcome, and committed before the response is sent; a route may set
``request.state.file_id`` to tie the entry to a file.

A route that writes anyway (an upload) saves the separate audit transaction by calling
``fold_audit`` inside its own: the entry then commits with the change it describes, and the
middleware writes nothing more unless the response ends with another status than the one
recorded (say a 500 after the commit), in which case that outcome is recorded too.

Every log line written while serving a request, the access line included, names the client
address (``client``: the peer, or what a trusted proxy forwarded, ``gateway.api.proxies``), and
so does every audit entry (``gateway.audit.CLIENT``). The body is read through ``BodyWatch``: a
client that stalls mid-body is answered 408, one that disconnects mid-body is logged as
``client_abort`` (status 499 in the access line and the audit entry; no traceback, and no
response to a peer that is gone).

On SQLite the audit write and ``serialized_write`` callers queue on an in-process lock rather
than on SQLite's busy handler, which sleeps in growing steps (up to 100 ms) and starves some
writers under concurrency: the p99 of uploads fell by an order of magnitude with it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import audit
from gateway.api.body import CLIENT_CLOSED, BodyWatch, ClientAbortError
from gateway.api.deps import AppContext
from gateway.api.keys import Principal
from gateway.api.problems import PROBLEM_JSON, Problem, TransferAbortedError
from gateway.db.base import Database
from gateway.logging import get_logger

log = get_logger("gateway.api")
_RID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(slots=True)
class _AuditSlot:
    """This request's audit state, shared with the route (and its worker threads)."""

    scope: Scope
    #: the status an audit entry was committed for by the route itself (``fold_audit``)
    folded_status: int | None = None


_SLOT: ContextVar[_AuditSlot | None] = ContextVar("gateway_audit_slot", default=None)
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


@contextmanager
def serialized_write(db: Database) -> Iterator[Session]:
    """``db.write()``, queued on an in-process lock first when the database is SQLite.

    SQLite has one writer anyway; waiting on a lock wakes the next writer at once instead of
    after the busy handler's next sleep. PostgreSQL writes run concurrently as before.
    """
    if not db.is_sqlite:
        with db.write() as s:
            yield s
        return
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(db.engine, threading.Lock())
    with lock, db.write() as s:
        yield s


def _record_http(
    session: Session,
    principal: Principal,
    method: str,
    route: str,
    status: int,
    file_id: int | None,
) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action=f"http {method} {route}"[:64],
        outcome=str(status),
        file_id=file_id if status < 400 else None,
        details={"key": principal.name, "role": principal.role.value, "file_id": file_id},
    )


def fold_audit(session: Session, principal: Principal, status: int, file_id: int | None) -> None:
    """Write this request's audit entry in ``session``'s transaction (see the module doc).

    Outside a mutating request (a CLI, a test calling a service directly) it does nothing.
    """
    slot = _SLOT.get()
    if slot is None or slot.scope["method"] not in MUTATING:
        return
    _record_http(
        session, principal, slot.scope["method"], _route_template(slot.scope), status, file_id
    )

    def committed(_: Session) -> None:
        slot.folded_status = status

    event.listen(session, "after_commit", committed, once=True)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else str(scope.get("path", ""))


class RequestContextMiddleware:
    """Request id + access log + audit of mutating calls + safe 500s."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _RID.match(incoming) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        started = False
        t0 = time.perf_counter()

        audited = False
        slot = _AuditSlot(scope)
        token = _SLOT.set(slot)
        client = client_address(scope)
        client_token = audit.CLIENT.set(client)
        watch = BodyWatch(receive, self.ctx.settings.body_timeout_seconds)

        async def audit_once(final_status: int) -> None:
            # before the response goes out: a client that saw the answer can find the entry
            nonlocal audited
            principal: Principal | None = state.get("principal")
            if audited or scope["method"] not in MUTATING or principal is None:
                return
            audited = True
            if slot.folded_status == final_status:
                return
            await anyio.to_thread.run_sync(
                self._audit,
                principal,
                scope["method"],
                _route_template(scope),
                final_status,
                self._file_id(scope, state),
            )

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if watch.aborted:  # the peer is gone: record the abort, send nothing
                if message["type"] == "http.response.start" and not started:
                    started = True
                    status = CLIENT_CLOSED
                    await audit_once(CLIENT_CLOSED)
                return
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                await audit_once(status)
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id, client=client):
            try:
                await self.app(scope, watch, send_wrapper)
            except (ClientAbortError, ClientDisconnect):
                watch.aborted = True
            except TransferAbortedError as exc:  # already logged by the route, on purpose
                log.warning("response_aborted", route=_route_template(scope), reason=str(exc))
                if not started:
                    status = 500
                    await audit_once(500)
                    await self._send_500(scope, send, request_id)
            except Exception:
                if watch.aborted:  # whatever a reader made of the disconnect: still an abort
                    pass
                else:
                    log.exception(
                        "request_failed", method=scope["method"], route=_route_template(scope)
                    )
                    status = 500
                    if not started:
                        await audit_once(500)
                        await self._send_500(scope, send, request_id)
            finally:
                if watch.aborted:
                    status = CLIENT_CLOSED
                    if not audited:
                        await audit_once(CLIENT_CLOSED)
                    log.warning(
                        "client_abort",
                        method=scope["method"],
                        route=_route_template(scope),
                        body_bytes=watch.received,
                    )
                elif watch.timed_out:
                    log.warning(
                        "body_timeout",
                        method=scope["method"],
                        route=_route_template(scope),
                        body_bytes=watch.received,
                        timeout=watch.timeout,
                    )
                principal: Principal | None = state.get("principal")
                log.info(
                    "http_request",
                    method=scope["method"],
                    route=_route_template(scope),
                    status=status,
                    ms=round((time.perf_counter() - t0) * 1000, 1),
                    key=principal.name if principal else None,
                    file_id=self._file_id(scope, state),
                )
                audit.CLIENT.reset(client_token)
                _SLOT.reset(token)

    def _audit(
        self, principal: Principal, method: str, route: str, status: int, file_id: int | None
    ) -> None:
        try:
            with serialized_write(self.ctx.db) as s:
                _record_http(s, principal, method, route, status, file_id)
        except Exception:
            # the response is already sent; an audit failure must be loud in the log
            log.exception("audit_write_failed", route=route, status=status)

    @staticmethod
    def _file_id(scope: Scope, state: dict[str, Any]) -> int | None:
        file_id = state.get("file_id")
        if isinstance(file_id, int):
            return file_id
        return _int(scope.get("path_params", {}).get("file_id"))

    @staticmethod
    async def _send_500(scope: Scope, send: Send, request_id: str) -> None:
        body = Problem(
            title="Internal Server Error",
            status=500,
            detail="an unexpected error occurred; it has been logged under this request id",
            instance=str(scope.get("path", "")),
            code="internal_error",
            request_id=request_id,
        ).model_dump(exclude_none=True)
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def client_address(scope: Scope) -> str:
    """The request's client address (after ``TrustedProxyMiddleware``); ``unknown`` if none."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        return int(value)
    return None


__all__ = [
    "MUTATING",
    "RequestContextMiddleware",
    "client_address",
    "fold_audit",
    "serialized_write",
]
