"""``gateway keys create|list|revoke``: API keys for the HTTP API and ops console.

``create`` prints the key on its LAST line, alone, so scripts can take ``tail -n1``; it is shown
once and only its hash is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import EXIT_UNREADABLE, app, cli_settings, console, err_console
from gateway.cli.progress import progress
from gateway.security.roles import KeyRole, Role

if TYPE_CHECKING:
    from gateway.db.base import Database
    from gateway.security.columns import SealedColumn

keys_app = typer.Typer(help="API keys (uploader, ops, auditor).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _db() -> tuple[Database, str | None]:
    from gateway.db.base import Database
    from gateway.db.migrate import ensure_schema
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database.from_settings(settings)
    try:
        ensure_schema(db)
    except GatewayError as exc:
        db.dispose()
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    pepper = settings.api_key_pepper.get_secret_value() if settings.api_key_pepper else None
    return db, pepper


@keys_app.command("create")
def create_cmd(
    role: Annotated[KeyRole, typer.Option(help="uploader | ops | auditor")],
    name: Annotated[str, typer.Option(help="Unique name; shown in the audit log")],
    provider: Annotated[
        str | None, typer.Option(help="Uploader keys: the provider's NPI (or npi:NPI / tin:TIN)")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who is creating it (default $USER)")] = None,
) -> None:
    """Create a key and print it (last line, shown once)."""
    from gateway.api.keys import create_key
    from gateway.audit import current_actor
    from gateway.errors import GatewayError

    db, pepper = _db()
    try:
        with db.write() as s:
            created = create_key(
                s,
                name=name,
                role=Role(role.value),
                provider=provider,
                pepper=pepper,
                actor=current_actor(actor),
            )
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        db.dispose()
    p = created.principal
    scope = f" for {p.provider_key}" if p.provider_key else ""
    console.print(
        f"created {p.role.value} key {p.name!r} (id {p.key_id}){scope}; "
        "store it now, it is not shown again:"
    )
    # plain print: no wrapping or markup may alter the key
    print(created.key, flush=True)


@keys_app.command("list")
def list_cmd() -> None:
    """Every key with its role, provider and state (never the secret)."""
    from gateway.api.keys import list_keys

    db, _ = _db()
    try:
        with db.read() as s:
            rows = list_keys(s)
    finally:
        db.dispose()
    table = Table(
        "id",
        "name",
        "role",
        "provider",
        "created",
        "last used",
        "state",
        title=f"API keys ({len(rows)})",
    )
    for k in rows:
        table.add_row(
            k.key_id,
            k.name,
            k.role,
            k.provider_key or "",
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.last_used_at.strftime("%Y-%m-%d %H:%M") if k.last_used_at else "never",
            "revoked" if k.revoked_at else "active",
            style="dim" if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_cmd(
    key: Annotated[str, typer.Argument(help="Key name or key id")],
    actor: Annotated[str | None, typer.Option(help="Who is revoking it (default $USER)")] = None,
) -> None:
    """Revoke a key; requests with it fail from now on (console sessions included)."""
    from gateway.api.keys import revoke_key
    from gateway.audit import current_actor
    from gateway.errors import GatewayError

    db, _ = _db()
    try:
        with db.write() as s:
            row = revoke_key(s, key, actor=current_actor(actor))
            name = row.name
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        db.dispose()
    console.print(f"revoked key {name!r}")


def sealed_columns() -> list[SealedColumn]:
    """Every column the gateway seals with the data keys: what a rotation must re-seal before
    the old key can be retired (a value left under it would not open any more)."""
    from gateway.db.types import tbl
    from gateway.resolve.batches.records import CONTENT
    from gateway.resolve.casework import NOTE_CONTEXT
    from gateway.resolve.tables import BatchFile, CaseNote
    from gateway.security.columns import SealedColumn, member_ids
    from gateway.webhooks.service import SEALED_AS
    from gateway.webhooks.tables import WebhookSubscription

    return [
        member_ids(),
        SealedColumn(tbl(CaseNote), "text_sealed", NOTE_CONTEXT),
        SealedColumn(tbl(WebhookSubscription), "secret_sealed", SEALED_AS),
        SealedColumn(tbl(BatchFile), "content", CONTENT, binary=True),
    ]


@keys_app.command("rotate-data-key")
def rotate_data_key_cmd(
    actor: Annotated[str | None, typer.Option(help="Who is rotating (default $USER)")] = None,
) -> None:
    """Re-encrypt every raw file under GATEWAY_ACTIVE_DATA_KEY (resumable, idempotent).

    Keep the old key ids in GATEWAY_DATA_KEYS until this has finished; reads keep working.
    """
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.logging import configure_logging
    from gateway.security.columns import rotate_columns
    from gateway.security.crypto import KeyRing
    from gateway.store import store_from_settings
    from gateway.store.rotate import rotate_raw

    settings = cli_settings()
    configure_logging(settings.log_level, settings.log_format)
    db, _ = _db()
    try:
        ring = KeyRing.from_settings(settings)
        if ring.active is None:
            raise GatewayError("no data key configured (GATEWAY_DATA_KEYS)", code="data_keys_off")
        with progress() as bars:
            report = rotate_raw(
                db,
                store_from_settings(settings),
                key_id=ring.active,
                actor=current_actor(actor),
                progress=bars.task("raw files"),
            )
            columns = rotate_columns(
                db, ring, columns=sealed_columns(), progress=bars.task("column values re-sealed")
            )
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    finally:
        db.dispose()
    console.print(
        f"raw files under data key {report.key_id!r}: {report.rewritten} re-encrypted, "
        f"{report.already} already were; {len(report.problems)} problems"
    )
    console.print(f"PHI column values re-sealed under {report.key_id!r}: {columns}")
    for p in report.problems:
        err_console.print(f"file {p.file_id}: {p.code}: {p.message}")
    if report.problems:
        raise typer.Exit(EXIT_UNREADABLE)


@keys_app.command("file")
def file_cmd() -> None:
    """Print where the keys file is (GATEWAY_KEYS_FILE or the XDG default); back it up
    separately from the data dir. Creates nothing."""
    from gateway.security.keyfile import explicit_secrets, keys_file_path
    from gateway.settings import Settings

    try:
        settings: Settings | None = Settings()
    except ValueError:  # settings errors are reported by the commands that use them
        settings = None
    path = keys_file_path(settings)
    print(path, flush=True)  # alone on stdout, for scripts: cp -p "$(gateway keys file)" ...
    if settings is not None and explicit_secrets(settings):
        err_console.print("every secret is set in GATEWAY_*: the keys file is not used")
    elif not path.exists():
        err_console.print("not created yet: the first command that needs secrets generates it")


@keys_app.command("add-data-key")
def add_data_key_cmd() -> None:
    """Add a fresh data key to the keys file and make it the active one (old keys stay).

    Restart every process, then run `gateway keys rotate-data-key`. With GATEWAY_DATA_KEYS set
    explicitly, add the printed keyid:base64 there instead (and set GATEWAY_ACTIVE_DATA_KEY).
    """
    import datetime as dt
    import os
    import secrets

    from gateway.errors import GatewayError
    from gateway.security.crypto import new_key
    from gateway.security.keyfile import add_data_key, keys_file_path, load_keys_file

    settings = cli_settings()
    if os.environ.get("GATEWAY_DATA_KEYS"):
        key_id = f"k{dt.datetime.now(dt.UTC):%Y%m%d}-{secrets.token_hex(3)}"
        err_console.print(
            "GATEWAY_DATA_KEYS is set explicitly: append this entry to it and set "
            f"GATEWAY_ACTIVE_DATA_KEY={key_id}, restart, then run "
            "`gateway keys rotate-data-key`:"
        )
        print(f"{key_id}:{new_key()}", flush=True)
        return
    path = keys_file_path(settings)
    try:
        load_keys_file(path, settings.data_dir)
        key_id = add_data_key(path)
    except GatewayError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/red]")
        raise typer.Exit(EXIT_UNREADABLE) from None
    console.print(
        f"data key {key_id!r} added to {path} and made active (old keys kept). "
        "Back the keys file up again, restart every process, then run "
        "`gateway keys rotate-data-key`."
    )
