"""Security headers on every response (pure ASGI, outermost, so error pages get them too).

Console responses (``/console``): a Content-Security-Policy that allows only our own stylesheet
(no inline script or style, nothing from elsewhere, no plugins, no ``<base>`` rewrites, forms
posting only to us, no framing), ``X-Frame-Options: DENY`` for older browsers,
``Referrer-Policy: no-referrer`` (file ids in URLs do not leave the console), and
``Cache-Control: no-store`` on every page but the stylesheet: pages show PHI, and a shared or
back-button cache must not keep it. API responses (``/v1``) carry PHI too and are
``no-store`` as well. Every response is ``X-Content-Type-Options: nosniff``, so a raw file
served as ``application/octet-stream`` can never be run as script or rendered as HTML.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_PREFIX = "/console/static/"
_ALWAYS = [(b"x-content-type-options", b"nosniff")]
_CONSOLE = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
    """The security headers of a response to ``path``."""
    out = list(_ALWAYS)
    if path == "/console" or path.startswith("/console/"):
        out += _CONSOLE
        if not path.startswith(STATIC_PREFIX):
            out += _NO_STORE
    elif path.startswith("/v1/"):
        out += _NO_STORE
    return out


class SecurityHeadersMiddleware:
    """Add ``headers_for(path)`` to every HTTP response, replacing any same-named header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope.get("path", ""))
        names = {name for name, _ in extra}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_wrapper)


__all__ = ["CSP", "SecurityHeadersMiddleware", "headers_for"]
