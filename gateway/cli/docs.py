"""Generate ``docs/cli.md``, the CLI reference, from the command tree itself.

    python -m gateway.cli.docs            # rewrite docs/cli.md
    python -m gateway.cli.docs --check    # exit 1 when docs/cli.md is not current (CI)

Walks the Click command tree behind the Typer app (Typer ships its own copy of Click, so the
tree is read by duck typing: ``commands`` on groups, ``param_type_name`` and the help record on
parameters) and writes every command's usage, help and options as Markdown. The output
depends only on the code (no terminal width, no colours), so a test can compare it with the
committed file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer.main

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
HEADER = """# CLI reference

Generated from the command tree by `python -m gateway.cli.docs`; do not edit by hand
(`tests/unit/test_cli_docs.py` fails when this file is not current). Every command reads its
configuration from `GATEWAY_*` environment variables (see the README's configuration section).
Exit codes, unless a command says otherwise: 0 ok, 1 findings (something quarantined, refused or
needing attention), 2 usage or setup error.
"""


def _clean(text: str | None) -> str:
    """Help text as Markdown: Typer/Click markers removed, paragraphs kept."""
    if not text:
        return ""
    lines = [line.rstrip() for line in text.replace("\b\n", "").strip().splitlines()]
    return "\n".join(lines).replace("``", "`")


def _option_row(param: Any, ctx: Any) -> str | None:
    """One table row from the option's own help record (names, metavar, help, default)."""
    if param.param_type_name != "option" or getattr(param, "hidden", False):
        return None
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names, help_text = record
    help_text = " ".join(_clean(help_text).split()).replace("|", "\\|")
    if param.required and "required" not in help_text:
        help_text += " [required]"
    if param.multiple and "repeat" not in help_text:
        help_text += " (repeatable)"
    return f"| `{names}` | {help_text} |"


def _argument(param: Any) -> str | None:
    if param.param_type_name != "argument":
        return None
    name = (param.metavar or param.name or "ARG").upper()
    help_text = " ".join(_clean(getattr(param, "help", None)).split())
    need = "required" if param.required else "optional"
    many = ", one or more" if param.nargs == -1 else ""
    return f"- `{name}` ({need}{many}){': ' + help_text if help_text else ''}"


def _section(cmd: Any, path: list[str], out: list[str]) -> None:
    ctx = cmd.context_class(cmd, info_name=" ".join(path))
    heading = "#" * min(2 + len(path) - 2, 4)
    out.append(f"{heading} `{' '.join(path)}`\n")
    usage = " ".join(cmd.collect_usage_pieces(ctx)).replace("{", "").replace("}", "").upper()
    out.append(f"```\n{' '.join(path)} {usage}\n```\n")
    if cmd.help:
        out.append(_clean(cmd.help) + "\n")
    args = [a for a in (_argument(p) for p in cmd.params) if a]
    if args:
        out.append("Arguments:\n")
        out.extend(args)
        out.append("")
    rows = [r for r in (_option_row(p, ctx) for p in cmd.params) if r]
    if rows:
        out.append("| option | meaning |\n|---|---|")
        out.extend(rows)
        out.append("")
    if hasattr(cmd, "commands"):
        for name in sorted(cmd.commands):
            sub = cmd.commands[name]
            if not sub.hidden:
                _section(sub, [*path, name], out)


def settings_table() -> list[str]:
    """Every ``GATEWAY_*`` setting with its default and description, from ``Settings``."""
    from gateway.settings import Settings

    out = ["## Configuration\n",
           "Every setting is an environment variable (`gateway/settings.py`). Secrets are never",
           "printed; placeholder values are refused at start-up.\n",
           "| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "" if default is None else f"`{default}`"
        meaning = (field.description or "").replace("|", "\\|")
        out.append(f"| `GATEWAY_{name.upper()}` | {shown} | {meaning} |")
    out.append("")
    return out


def render() -> str:
    """The whole reference as Markdown."""
    from gateway.cli import app, load_commands

    load_commands()
    root: Any = typer.main.get_command(app)
    out = [HEADER]
    out.append("## Commands\n")
    for name in sorted(root.commands):
        sub = root.commands[name]
        out.append(f"- [`gateway {name}`](#gateway-{name.replace(' ', '-')}): "
                   f"{_clean(sub.get_short_help_str(limit=120))}")
    out.append("")
    for name in sorted(root.commands):
        if not root.commands[name].hidden:
            _section(root.commands[name], ["gateway", name], out)
    out.extend(settings_table())
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is not current: run `python -m gateway.cli.docs`", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
