"""``gateway serve``: the HTTP API and ops console (uvicorn).

Stateless like ``gateway worker``: run as many replicas as you like behind a load balancer on
one PostgreSQL (give each the same secrets: the same ``GATEWAY_*`` values or a copy of the same
keys file, so CSRF tokens and key hashes agree). Processing is left to the workers.

``--workers N`` runs N server processes on one socket (uvicorn's supervisor); each builds its
own app from the environment (``app_factory``) after the schema was checked once here. On
SQLite more than one process adds little: the database has a single writer, and writers of
different processes queue on SQLite's busy handler rather than in-process. ``--http`` picks the
HTTP parser: ``httptools`` (C, faster; used by ``auto`` when installed) or ``h11`` (pure Python).
The access log stays off by default: the API logs one structured line per request itself.

Behind a load balancer, set ``GATEWAY_TRUSTED_PROXIES`` to its addresses: the app honours
``X-Forwarded-For``/``-Proto`` from those peers only (``gateway.api.proxies``). uvicorn's own
proxy-header handling is always off (it trusts a fixed list, or every peer with ``*``), and the
old ``--proxy-headers`` flag is gone with it.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

from gateway.cli.app import EXIT_UNREADABLE, app, cli_settings, err_console

if TYPE_CHECKING:
    from fastapi import FastAPI


class HttpImpl(enum.StrEnum):
    AUTO = "auto"
    H11 = "h11"
    HTTPTOOLS = "httptools"


def app_factory() -> FastAPI:
    """The app of one server process, from the environment (``--workers`` children)."""
    from gateway.api import create_app
    from gateway.logging import configure_logging

    settings = cli_settings()  # checked again (the parent checked before spawning us)
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to bind")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port (PostgreSQL: about one per core; SQLite: 1)",
        ),
    ] = 1,
    http: Annotated[
        HttpImpl,
        typer.Option(help="HTTP parser: auto (httptools when installed), h11 or httptools"),
    ] = HttpImpl.AUTO,
    access_log: Annotated[
        bool, typer.Option(help="uvicorn's own access log (the API already logs every request)")
    ] = False,
) -> None:
    """Serve the API (/v1), health, metrics and the ops console (/console)."""
    import uvicorn

    from gateway.errors import GatewayError
    from gateway.logging import configure_logging, get_logger

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    common = {
        "host": host,
        "port": port,
        "access_log": access_log,
        "proxy_headers": False,
        "log_config": None,
        "server_header": False,
        "http": http.value,
    }
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
    uvicorn.run("gateway.cli.serve:app_factory", factory=True, workers=workers, **common)  # type: ignore[arg-type]
