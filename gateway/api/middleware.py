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


@dataclass
class _Exchange:
    """One request's response side: the status sent, whether it started, and its one audit."""

    mw: RequestContextMiddleware
    scope: Scope
    state: dict[str, Any]
    slot: _AuditSlot
    watch: BodyWatch
    downstream: Send
    request_id: str
    status: int = 500
    started: bool = False
    audited: bool = False

    async def audit_once(self, final_status: int) -> None:
        """Before the response goes out: a client that saw the answer can find the entry."""
        principal: Principal | None = self.state.get("principal")
        if self.audited or self.scope["method"] not in MUTATING or principal is None:
            return
        self.audited = True
        if self.slot.folded_status == final_status:
            return
        await anyio.to_thread.run_sync(
            self.mw._audit,
            principal,
            self.scope["method"],
            _route_template(self.scope),
            final_status,
            self.mw._file_id(self.scope, self.state),
        )

    async def send(self, message: Message) -> None:
        if self.watch.aborted:  # the peer is gone: record the abort, send nothing
            if message["type"] == "http.response.start" and not self.started:
                self.started = True
                self.status = CLIENT_CLOSED
                await self.audit_once(CLIENT_CLOSED)
            return
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            await self.audit_once(self.status)
            headers = list(message.get("headers", []))
            headers.append((b"x-request-id", self.request_id.encode()))
            message = {**message, "headers": headers}
        await self.downstream(message)

    async def fail(self) -> None:
        """A 500: recorded, and answered when no response has started."""
        self.status = 500
        if not self.started:
            await self.audit_once(500)
            await self.mw._send_500(self.scope, self.downstream, self.request_id)


def _request_id(scope: Scope) -> str:
    """The caller's ``X-Request-Id`` when it is a safe token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            incoming = str(value.decode("latin-1"))
            return incoming if _RID.match(incoming) else uuid.uuid4().hex
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Request id + access log + audit of mutating calls + safe 500s."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        t0 = time.perf_counter()
        slot = _AuditSlot(scope)
        token = _SLOT.set(slot)
        client = client_address(scope)
        client_token = audit.CLIENT.set(client)
        watch = BodyWatch(receive, self.ctx.settings.body_timeout_seconds)
        ex = _Exchange(self, scope, state, slot, watch, send, request_id)

        with structlog.contextvars.bound_contextvars(request_id=request_id, client=client):
            try:
                await self.app(scope, watch, ex.send)
            except (ClientAbortError, ClientDisconnect):
                watch.aborted = True
            except TransferAbortedError as exc:  # already logged by the route, on purpose
                log.warning("response_aborted", route=_route_template(scope), reason=str(exc))
                if not ex.started:
                    await ex.fail()
            except Exception:
                # whatever a reader made of a disconnect is still an abort: nothing to say
                if not watch.aborted:
                    log.exception(
                        "request_failed", method=scope["method"], route=_route_template(scope)
                    )
                    await ex.fail()
            finally:
                if watch.aborted:
                    ex.status = CLIENT_CLOSED
                    await ex.audit_once(CLIENT_CLOSED)
                self._log_outcome(scope, state, watch, ex.status, t0)
                audit.CLIENT.reset(client_token)
                _SLOT.reset(token)

    def _log_outcome(
        self, scope: Scope, state: dict[str, Any], watch: BodyWatch, status: int, t0: float
    ) -> None:
        """The access-log line, after an abort or body-timeout warning when there was one."""
        route = _route_template(scope)
        if watch.aborted:
            log.warning(
                "client_abort", method=scope["method"], route=route, body_bytes=watch.received
            )
        elif watch.timed_out:
            log.warning(
                "body_timeout",
                method=scope["method"],
                route=route,
                body_bytes=watch.received,
                timeout=watch.timeout,
            )
        principal: Principal | None = state.get("principal")
        log.info(
            "http_request",
            method=scope["method"],
            route=route,
            status=status,
            ms=round((time.perf_counter() - t0) * 1000, 1),
            key=principal.name if principal else None,
            file_id=self._file_id(scope, state),
        )

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
