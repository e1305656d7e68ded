"""``gateway serve``: the HTTP API and ops console (uvicorn).

Stateless like ``gateway worker``: run as many replicas as you like behind a load balancer on
one PostgreSQL (set the same ``GATEWAY_SESSION_SECRET`` on each so console sessions survive
switching replicas). Processing is left to the workers.

``--workers N`` runs N server processes on one socket (uvicorn's supervisor); each builds its
own app from the environment (``app_factory``) after the schema was checked once here. On
SQLite more than one process adds little: the database has a single writer, and writers of
different processes queue on SQLite's busy handler rather than in-process. ``--http`` picks the
HTTP parser: ``httptools`` (C, faster; used by ``auto`` when installed) or ``h11`` (pure Python).
The access log stays off by default: the API logs one structured line per request itself.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.app import EXIT_UNREADABLE, app, err_console

if TYPE_CHECKING:
    from fastapi import FastAPI


class HttpImpl(enum.StrEnum):
    AUTO = "auto"
    H11 = "h11"
    HTTPTOOLS = "httptools"


def app_factory() -> FastAPI:
    """The app of one server process, from the environment (``--workers`` children)."""
    from gateway.api import create_app
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging
    from gateway.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    from gateway.security.secrets import check_secrets

    try:
        check_secrets(settings)  # refuse placeholder or world-readable secrets before serving
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    return create_app(settings)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to bind")] = 8000,
    proxy_headers: Annotated[bool, typer.Option(
        help="Trust X-Forwarded-* from the load balancer")] = False,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes sharing the port (PostgreSQL: about one per "
        "core; SQLite: 1)")] = 1,
    http: Annotated[HttpImpl, typer.Option(
        help="HTTP parser: auto (httptools when installed), h11 or httptools")] = HttpImpl.AUTO,
    access_log: Annotated[bool, typer.Option(
        help="uvicorn's own access log (the API already logs every request)")] = False,
) -> None:
    """Serve the API (/v1), health, metrics and the ops console (/console)."""
    import uvicorn

    from gateway.errors import GatewayError
    from gateway.logging import configure_logging, get_logger
    from gateway.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    common = {"host": host, "port": port, "access_log": access_log,
              "proxy_headers": proxy_headers, "log_config": None, "server_header": False,
              "http": http.value}
    log = get_logger("gateway.serve")
    if workers == 1:
        from gateway.api import create_app

        try:
            app_obj = create_app(settings)
        except GatewayError as exc:
            err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
            raise typer.Exit(EXIT_UNREADABLE) from None
        log.info("api_starting", host=host, port=port, workers=1, http=http.value)
        uvicorn.run(app_obj, **common)  # type: ignore[arg-type]
        return
    # Check (on SQLite: create/upgrade) the schema once, before the children race to do it.
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema

    db = Database.from_settings(settings)
    try:
        ensure_schema(db)
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        db.dispose()
    log.info("api_starting", host=host, port=port, workers=workers, http=http.value)
    # the children are spawned and import the factory; they read settings from the same env
    uvicorn.run("gateway.cli.serve:app_factory", factory=True, workers=workers,
                **common)  # type: ignore[arg-type]
