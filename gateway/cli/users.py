"""``gateway users add|list|disable|set-password``: per-person console logins.

The password is read from a hidden prompt (typed twice) or, with ``--password-stdin``, from
the first line of standard input; never from the command line, where ``ps`` and shell
history would keep it. Nothing printed or logged contains the password or its hash.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gateway.cli.app import EXIT_UNREADABLE, app, console, err_console
from gateway.security.roles import Role

if TYPE_CHECKING:
    from gateway.db.base import Database

users_app = typer.Typer(
    help="Console users (uploader, analyst, ops, auditor, admin).", no_args_is_help=True
)
app.add_typer(users_app, name="users")

StdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (scripts)"
    ),
]
ActorOpt = Annotated[str | None, typer.Option(help="Who is doing this (default $USER)")]


def _db() -> Database:
    from gateway.cli.keys import _db as keys_db

    return keys_db()[0]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _fail(code: str, message: str) -> typer.Exit:
    err_console.print(f"[red]{code}: {message}[/red]")
    return typer.Exit(EXIT_UNREADABLE)


@users_app.command("add")
def add_cmd(
    username: Annotated[
        str, typer.Argument(help="Login name (lower case); shown in the audit log")
    ],
    role: Annotated[Role, typer.Option(help="uploader | analyst | ops | auditor | admin")],
    provider: Annotated[
        str | None,
        typer.Option(help="Limit the user to one provider (NPI, npi:NPI or tin:TIN)"),
    ] = None,
    password_stdin: StdinOpt = False,
    actor: ActorOpt = None,
) -> None:
    """Add a user; the password is prompted for (or read from stdin)."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.users.passwords import check_policy
    from gateway.users.service import add_user

    password = _password(password_stdin)
    try:
        check_policy(password)  # before the database is opened
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    db = _db()
    try:
        with db.write() as s:
            view = add_user(
                s,
                username=username,
                role=role,
                provider=provider,
                password=password,
                actor=current_actor(actor),
            )
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    scope = f" for {view.provider_key}" if view.provider_key else ""
    console.print(f"added {view.role} user {view.username!r}{scope}")


@users_app.command("list")
def list_cmd() -> None:
    """Every user with role, provider and state (never a password or its hash)."""
    from gateway.users.service import list_users

    db = _db()
    try:
        with db.read() as s:
            rows = list_users(s)
    finally:
        db.dispose()
    table = Table(
        "username",
        "role",
        "provider",
        "created",
        "last sign-in",
        "state",
        title=f"Users ({len(rows)})",
    )
    for u in rows:
        table.add_row(
            u.username,
            u.role,
            u.provider_key or "",
            u.created_at[:16].replace("T", " "),
            (u.last_login_at or "never")[:16].replace("T", " "),
            "disabled" if u.disabled else "active",
            style="dim" if u.disabled else "",
        )
    console.print(table)


@users_app.command("disable")
def disable_cmd(
    username: Annotated[str, typer.Argument(help="The user to disable")],
    actor: ActorOpt = None,
) -> None:
    """Disable a user: no more sign-ins; its console sessions end at the next request."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.users.service import disable_user

    db = _db()
    try:
        with db.write() as s:
            view = disable_user(s, username, actor=current_actor(actor))
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    console.print(f"disabled user {view.username!r}")


@users_app.command("set-role")
def set_role_cmd(
    username: Annotated[str, typer.Argument(help="The user whose role changes")],
    role: Annotated[str, typer.Argument(help="uploader | analyst | ops | auditor | admin")],
    provider: Annotated[
        str | None, typer.Option(help="Also move the user to this provider (NPI, npi:, tin:)")
    ] = None,
    actor: ActorOpt = None,
) -> None:
    """Change a user's role (audited); it applies at the user's next console page."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.security.roles import Role
    from gateway.users.service import set_role

    if role not in Role.__members__.values():
        raise _fail("bad_role", f"{role!r} is not a user role")
    db = _db()
    try:
        with db.write() as s:
            view = set_role(s, username, Role(role), actor=current_actor(actor), provider=provider)
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    console.print(f"user {view.username!r} is now {view.role}")


@users_app.command("set-password")
def set_password_cmd(
    username: Annotated[str, typer.Argument(help="The user whose password is set")],
    password_stdin: StdinOpt = False,
    actor: ActorOpt = None,
) -> None:
    """Set a user's password (prompted, or from stdin); its older sessions end."""
    from gateway.audit import current_actor
    from gateway.errors import GatewayError
    from gateway.users.passwords import check_policy
    from gateway.users.service import set_password

    password = _password(password_stdin)
    try:
        check_policy(password)
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    db = _db()
    try:
        with db.write() as s:
            view = set_password(s, username, password, actor=current_actor(actor))
    except GatewayError as exc:
        raise _fail(exc.code, exc.message) from None
    finally:
        db.dispose()
    console.print(f"password set for {view.username!r}")
