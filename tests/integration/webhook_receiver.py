"""A real HTTP receiver on 127.0.0.1 for webhook tests: it verifies each signature the way
docs/webhooks.md tells integrators to, and answers from a script of status codes."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gateway.webhooks.signing import HEADER, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    answered: int


@dataclass
class Receiver:
    """Answers the statuses in ``script`` in turn (then 200); 401 when the signature is bad."""

    secret: str = ""
    script: deque[int] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/gateway"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                ok = verify(owner.secret, body, self.headers.get(HEADER, ""))
                status = (owner.script.popleft() if owner.script else 200) if ok else 401
                owner.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body, ok, status)
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(10)
