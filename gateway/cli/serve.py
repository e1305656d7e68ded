"""``gateway serve``: the HTTP API and ops console (uvicorn).

Stateless like ``gateway worker``: run as many replicas as you like behind a load balancer on
one PostgreSQL (set the same ``GATEWAY_SESSION_SECRET`` on each so console sessions survive
switching replicas). Processing is left to the workers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.app import EXIT_UNREADABLE, app, err_console
from gateway.errors import GatewayError
from gateway.logging import configure_logging, get_logger
from gateway.settings import get_settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to bind")] = 8000,
    proxy_headers: Annotated[bool, typer.Option(
        help="Trust X-Forwarded-* from the load balancer")] = False,
) -> None:
    """Serve the API (/v1), health, metrics and the ops console (/console)."""
    import uvicorn

    from gateway.api import create_app

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        app_obj = create_app(settings)
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    get_logger("gateway.serve").info("api_starting", host=host, port=port)
    uvicorn.run(app_obj, host=host, port=port, access_log=False, proxy_headers=proxy_headers,
                log_config=None, server_header=False)
