"""Reading a request body from a client that may stall or leave halfway.

``BodyWatch`` wraps the ASGI ``receive`` of one request. While body parts are still due, each
wait for the next one is bounded by ``GATEWAY_BODY_TIMEOUT_SECONDS``: a client that stops
sending (or a slow-loris that never finishes) gets ``BodyTimeoutError``, a 408. A client that
disconnects before its body is complete raises ``ClientAbortError`` instead of Starlette's
``ClientDisconnect``. Both subclass ``HTTPException`` on purpose: FastAPI re-raises those from
its body parsing (any other exception there becomes a 400 "error parsing the body"), so the
request middleware always sees what happened and can log a client abort as such (499, no
traceback, no response to a peer that is gone). Nothing is stored either way: uploads reach
the raw store only once their body is complete.
"""

from __future__ import annotations

import anyio
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive

#: the status nginx made conventional for "client closed the request"; never sent, only logged
CLIENT_CLOSED = 499


class BodyTimeoutError(HTTPException):
    """The client sent no body data for ``timeout`` seconds while more was due."""

    def __init__(self, timeout: float) -> None:
        super().__init__(
            408,
            f"the request body stalled: no data for {timeout:g} s",
            headers={"Connection": "close"},
        )


class ClientAbortError(HTTPException):
    """The client disconnected before its request body was complete."""

    def __init__(self) -> None:
        super().__init__(CLIENT_CLOSED, "the client closed the connection mid-body")


class BodyWatch:
    """A ``receive`` with a per-read stall timeout and mid-body disconnect detection."""

    def __init__(self, receive: Receive, timeout: float) -> None:
        self._receive = receive
        self.timeout = timeout
        self.done = False
        self.received = 0
        self.aborted = False
        self.timed_out = False

    async def __call__(self) -> Message:
        if self.done:  # the body is in: waiting for a disconnect is not a stall
            return await self._receive()
        try:
            with anyio.fail_after(self.timeout):
                message = await self._receive()
        except TimeoutError:
            self.timed_out = True
            raise BodyTimeoutError(self.timeout) from None
        if message["type"] == "http.disconnect":
            self.aborted = True
            raise ClientAbortError
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.done = True
        return message


__all__ = ["CLIENT_CLOSED", "BodyTimeoutError", "BodyWatch", "ClientAbortError"]
