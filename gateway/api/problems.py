"""RFC 9457 problem details: every error the API returns is ``application/problem+json``.

Handlers turn our own exceptions, Starlette/FastAPI HTTP errors and validation errors into a
``Problem`` with a clear ``detail``; anything unexpected becomes a 500 whose body names only
the request id (the traceback goes to the log, never to the client).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api.body import BodyTimeoutError
from gateway.db.faults import RETRY_AFTER, Fault, classify
from gateway.errors import (
    ConfigError,
    GatewayError,
    InputError,
    NotFoundError,
    PermanentError,
    TransientError,
)
from gateway.logging import get_logger
from gateway.resolve.render import RenderError
from gateway.resolve.workflow import ResolutionError
from gateway.store.base import FileTooLargeError

log = get_logger("gateway.api")
PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    507: "Insufficient Storage",
}
_FAULT_ANSWERS = {
    Fault.BUSY: (503, "the database is busy (a lock was held too long); retry shortly"),
    Fault.UNAVAILABLE: (503, "the database is not reachable or out of connections; retry later"),
    Fault.STORAGE: (507, "the gateway's storage is full; nothing was kept, retry later"),
}


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(default="about:blank", description="URI identifying the problem type")
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong, for a human")
    instance: str | None = Field(default=None, description="The request path")
    code: str | None = Field(default=None, description="Stable machine-readable error code")
    request_id: str | None = Field(default=None, description="Quote this when asking for help")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors: where and why"
    )


class TransferAbortedError(Exception):
    """A response body cut short on purpose (its bytes failed verification mid-stream): the
    client sees an incomplete transfer; the request middleware logs it without a traceback."""


class ApiError(Exception):
    """An error to answer with a given status, code and detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code, self.headers = status, detail, code, headers


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://remittance-gateway.invalid/problems/{code}" if code else "about:blank",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        request_id=getattr(request.state, "request_id", None),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def fault_response(request: Request, fault: Fault) -> JSONResponse:
    """503 ``database_busy``/``database_unavailable`` or 507 ``insufficient_storage``."""
    status, detail = _FAULT_ANSWERS[fault]
    return problem_response(
        request, status, detail, code=fault.value, headers={"Retry-After": str(RETRY_AFTER[fault])}
    )


#: The one GatewayError → HTTP status map (API routes and console pages alike): the status of
#: an exception is that of the first class of its MRO found here, so a subclass inherits its
#: parent's status unless it is listed itself. Codes in ``STATUS_BY_CODE`` win over the class.
STATUS_BY_CLASS: dict[type[GatewayError], int] = {
    NotFoundError: 404,
    FileTooLargeError: 413,
    InputError: 400,
    ResolutionError: 409,  # a transition the case does not allow, a payer without a layout
    RenderError: 409,  # the payer's layout cannot write this case (the case is left as it was)
    ConfigError: 503,
    TransientError: 503,
    PermanentError: 400,
    GatewayError: 400,
}
#: error codes whose status is not their class's: a conflict with what is already there
STATUS_BY_CODE: dict[str, int] = {
    "provider_forbidden": 403,  # a key asked for another provider's reports
    "role_forbidden": 403,  # the caller's role may not do this case action
    "user_exists": 409,
    "already_disabled": 409,
    "file_too_large": 413,
    "not_replayable": 409,
    "already_revoked": 409,
    "key_exists": 409,
}


def status_for(exc: GatewayError) -> int:
    """HTTP status of one of our own exceptions (``STATUS_BY_CODE``, then ``STATUS_BY_CLASS``)."""
    if exc.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[exc.code]
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_CLASS:
            return STATUS_BY_CLASS[cls]
    return 400


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only where and why: never echo the input value back (it may be PHI).
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]


def install(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, code=exc.code, headers=exc.headers)

    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, exc: GatewayError) -> JSONResponse:
        status = status_for(exc)
        fault = classify(exc) if status != 503 else None  # a 503 keeps its own code
        if fault is not None:
            return fault_response(request, fault)
        headers = (
            {"Retry-After": str(RETRY_AFTER[Fault.UNAVAILABLE])}
            if isinstance(exc, TransientError)
            else None
        )
        return problem_response(request, status, exc.message, code=exc.code, headers=headers)

    async def _environment(request: Request, exc: Exception) -> JSONResponse:
        # a held lock, a lost database or a full disk is a 503/507, never a 500; anything
        # else is re-raised to the request middleware's logged 500
        fault = classify(exc)
        if fault is None:
            raise exc
        log.warning(
            "request_environment_fault",
            fault=fault.value,
            error_type=type(exc).__name__,
            path=request.url.path,
        )
        return fault_response(request, fault)

    app.add_exception_handler(SQLAlchemyError, _environment)
    app.add_exception_handler(OSError, _environment)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = _validation_errors(exc)
        first = errs[0] if errs else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        return problem_response(
            request,
            422,
            f"{where}: {first['msg']}" if where else str(first["msg"]),
            code="validation_error",
            errors=errs,
        )

    @app.exception_handler(BodyTimeoutError)
    async def _body_timeout(request: Request, exc: BodyTimeoutError) -> JSONResponse:
        return problem_response(
            request,
            408,
            exc.detail,
            code="body_timeout",
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource: {request.url.path}"
        return problem_response(
            request, exc.status_code, detail, headers=dict(exc.headers) if exc.headers else None
        )


#: OpenAPI ``responses=`` entries for the problem statuses a route can return
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"model": Problem, "description": _TITLES.get(s, "Error"), "content": {PROBLEM_JSON: {}}}
        for s in statuses
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the handlers above really send for errors.

    FastAPI documents its 422 as ``application/json`` ``HTTPValidationError``, but
    ``_validation`` answers ``application/problem+json`` ``Problem`` (found by the schemathesis
    campaign, tests/integration/test_api_fuzz.py); the ``problem+json`` entries of
    ``problem_responses`` get the ``Problem`` schema so clients can validate them; an operation
    with a JSON body or parameters also answers 400 (a body that does not parse, a NUL byte);
    one behind a key also 429 (failed sign-ins), one with a body also 408 (a stalled body).
    """
    ref = {"$ref": "#/components/schemas/Problem"}
    for item in schema.get("paths", {}).values():
        for op in item.values():
            responses = op.get("responses", {})
            # a body that is not JSON, or a NUL byte in the path or query (gateway.api.guards)
            if ("requestBody" in op or op.get("parameters")) and "400" not in responses:
                responses["400"] = {
                    "description": _TITLES[400],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
            # a key check can answer 429 (too many failed sign-ins from the address), a body
            # that stalls 408 (gateway.api.signin, gateway.api.body)
            if "401" in responses and "429" not in responses:
                responses["429"] = {
                    "description": _TITLES[429],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
            if "requestBody" in op and "408" not in responses:
                responses["408"] = {
                    "description": _TITLES[408],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
            if "422" in responses:
                responses["422"] = {
                    "description": _TITLES[422],
                    "content": {PROBLEM_JSON: {"schema": ref}},
                }
            for status, resp in responses.items():
                content = resp.get("content", {})
                if status >= "400" and PROBLEM_JSON in content:
                    content[PROBLEM_JSON] = {"schema": ref}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


__all__ = [
    "PROBLEM_JSON",
    "STATUS_BY_CLASS",
    "STATUS_BY_CODE",
    "ApiError",
    "Problem",
    "TransferAbortedError",
    "document_problems",
    "fault_response",
    "install",
    "problem_response",
    "problem_responses",
    "status_for",
]
