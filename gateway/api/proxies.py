"""Forwarded headers from trusted proxies only (pure ASGI, outermost: everything sees the result).

Rewrites ``scope["client"]`` and ``scope["scheme"]`` from ``X-Forwarded-For``/``-Proto`` when
the TCP peer is in ``GATEWAY_TRUSTED_PROXIES`` (see ``gateway.security.proxies``); from any
other peer the headers are ignored, so a client cannot pick the address the audit log and the
sign-in limiter see, nor make the console think it was reached over HTTPS. uvicorn's own
proxy handling stays off (``gateway serve``), so this is the one place the decision is made.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.security.proxies import (
    Network,
    client_from_forwarded,
    forwarded_scheme,
    is_trusted,
)


class TrustedProxyMiddleware:
    """Apply ``X-Forwarded-For``/``-Proto`` of trusted peers to the ASGI scope."""

    def __init__(self, app: ASGIApp, networks: tuple[Network, ...]) -> None:
        self.app = app
        self.networks = networks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks:
            peer = scope.get("client")
            if peer and is_trusted(peer[0], self.networks):
                scope = dict(scope)
                forwarded_for = proto = None
                for name, value in scope.get("headers", ()):
                    if name == b"x-forwarded-for":  # repeated headers join, in order
                        text = value.decode("latin-1")
                        forwarded_for = text if forwarded_for is None else f"{forwarded_for},{text}"
                    elif name == b"x-forwarded-proto":
                        proto = value.decode("latin-1")
                if forwarded_for is not None:
                    client = client_from_forwarded(peer[0], forwarded_for, self.networks)
                    if client != peer[0]:
                        scope["client"] = (client, 0)
                scheme = forwarded_scheme(proto) if proto is not None else None
                if scheme is not None:
                    scope["scheme"] = (
                        scheme if scope["type"] == "http" else scheme.replace("http", "ws")
                    )
        await self.app(scope, receive, send)


__all__ = ["TrustedProxyMiddleware"]
