"""The one GatewayError → HTTP status map (gateway.api.problems.status_for): every error class
the gateway raises gets its status from one table, API routes and console pages alike."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from gateway.api.problems import STATUS_BY_CLASS, install, status_for
from gateway.errors import (
    ConfigError,
    GatewayError,
    InputError,
    NotFoundError,
    PermanentError,
    TransientError,
)
from gateway.reconcile.refunds import RefundRequestError
from gateway.resolve.render import RenderError
from gateway.resolve.workflow import InvalidTransitionError, NoLayoutError, ResolutionError
from gateway.security.crypto import DataKeyMissingError, DecryptionError
from gateway.store.base import BlobNotFoundError, FileTooLargeError, StoreUnavailableError


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (NotFoundError("x"), 404),
        (BlobNotFoundError("x"), 404),  # a subclass inherits its parent's status
        (InputError("x"), 400),
        (RefundRequestError("x"), 400),
        (FileTooLargeError("x"), 413),
        (InputError("x", code="file_too_large"), 413),
        (InputError("x", code="not_replayable"), 409),
        (InputError("x", code="already_revoked"), 409),
        (InputError("x", code="key_exists"), 409),
        (ResolutionError("x"), 409),
        (InvalidTransitionError("x"), 409),
        (NoLayoutError("x"), 409),
        (RenderError("x"), 409),
        (ConfigError("x"), 503),
        (DataKeyMissingError("x"), 503),
        (TransientError("x"), 503),
        (StoreUnavailableError("x"), 503),
        (DecryptionError("x"), 400),
        (PermanentError("x"), 400),
        (GatewayError("x"), 400),
    ],
)
def test_status_of_each_error_class(exc: GatewayError, status: int) -> None:
    assert status_for(exc) == status


def test_every_listed_class_is_a_gateway_error() -> None:
    assert all(issubclass(cls, GatewayError) for cls in STATUS_BY_CLASS)
    assert GatewayError in STATUS_BY_CLASS  # the fallback is in the table, not in code


@pytest.mark.parametrize(
    ("exc", "status", "retry_after"),
    [
        (InvalidTransitionError("no"), 409, False),
        (NotFoundError("gone", code="batch_not_found"), 404, False),
        (TransientError("later"), 503, True),
    ],
)
def test_handler_answers_problem_json_with_the_map(
    exc: GatewayError, status: int, retry_after: bool
) -> None:
    app = FastAPI()
    install(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/boom")

    r = asyncio.run(get())
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == exc.code
    assert r.json()["detail"] == exc.message
    assert ("retry-after" in r.headers) is retry_after
