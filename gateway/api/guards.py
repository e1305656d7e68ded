"""Request guards that run before routing: refuse what no handler should ever see.

A NUL byte in the query string or path (``%00``) reached PostgreSQL as a text parameter,
which psycopg refuses with a ``ValueError`` (a 500); found by tests/integration/
test_api_injection.py. No identifier, filter or date of ours contains NUL, so it is a 400.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.problems import problem_response


class RejectNulMiddleware:
    """Answer 400 problem+json to a request whose path or query string carries a NUL byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
            if (
                b"\x00" in unquote_to_bytes(query)
                or b"\x00" in unquote_to_bytes(raw_path)
                or "\x00" in scope.get("path", "")
            ):
                response = problem_response(
                    Request(scope),
                    400,
                    "the request path or query contains a NUL byte",
                    code="nul_byte",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


__all__ = ["RejectNulMiddleware"]
