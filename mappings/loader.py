"""The one way mapping files are read: YAML → pydantic model → ``MappingError`` naming the file,
the field and the reason (every problem of the file, not only the first).

Every kind of mapping (payers, partners, providers, ledger layouts, outbound layouts,
refund-request layouts, escheat rules) loads through ``load_file``/``load_folder`` here, so an
operator gets the same kind of message whichever file is wrong, and tests/unit/test_mappings.py
loads every shipped file through the same calls.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from schemas.errors import ConfigError

MAPPINGS_DIR = Path(__file__).resolve().parent
M = TypeVar("M", bound=BaseModel)


class MappingError(ConfigError):
    """A mapping file is invalid: ``source`` is the file, ``problems`` (field, reason) pairs."""

    code = "mapping_invalid"

    def __init__(
        self, source: str | Path, problems: Sequence[tuple[str, str]], *, code: str | None = None
    ) -> None:
        self.source = str(source)
        self.problems = list(problems) or [("(file)", "invalid")]
        lines = [f"{self.source}: {field}: {reason}" for field, reason in self.problems]
        super().__init__(
            "\n".join(lines),
            code=code,
            location={"file": self.source, "field": self.problems[0][0]},
        )


def read_yaml(path: Path, *, code: str | None = None) -> object:
    """The parsed YAML of ``path``; unreadable files and YAML errors (with their line) raise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(
            path, [("(file)", f"cannot read: {exc.strerror or exc}")], code=code
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(path, [(where, f"not valid YAML: {problem}")], code=code) from None


def problems_of(exc: ValidationError) -> list[tuple[str, str]]:
    """(field path, reason) per pydantic error; a model-level ``"field: reason"`` message is
    attributed to its field."""
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False, include_input=False):
        msg = re.sub(r"^(Value|Assertion) error, ", "", str(err["msg"]))
        field = ".".join(str(p) for p in err["loc"]) or "(file)"
        if field == "(file)" and ": " in msg and msg.split(": ", 1)[0].isidentifier():
            field, msg = msg.split(": ", 1)
        out.append((field, msg))
    return out


def validate(
    model: type[M],
    data: object,
    source: str | Path,
    *,
    code: str | None = None,
    check: Callable[[object], list[tuple[str, str]]] | None = None,
) -> M:
    """``data`` as ``model``; ``check`` may first name problems pydantic cannot see."""
    if not isinstance(data, dict):
        raise MappingError(source, [("(file)", "must be a mapping of fields")], code=code)
    found = check(data) if check is not None else []
    if found:
        raise MappingError(source, found, code=code)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MappingError(source, problems_of(exc), code=code) from None


def load_file(
    model: type[M],
    path: Path,
    *,
    code: str | None = None,
    check: Callable[[object], list[tuple[str, str]]] | None = None,
) -> M:
    """One mapping file as ``model``."""
    return validate(model, read_yaml(path, code=code), path, code=code, check=check)


def yaml_files(folder: Path, *, code: str | None = None, missing_ok: bool = False) -> list[Path]:
    """The ``*.yaml``/``*.yml`` files of ``folder``, sorted by name."""
    if not folder.is_dir():
        if missing_ok and not folder.exists():
            return []
        raise MappingError(folder, [("(folder)", "no such folder of mapping files")], code=code)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_folder(
    model: type[M],
    folder: Path,
    *,
    code: str | None = None,
    missing_ok: bool = False,
    check: Callable[[object], list[tuple[str, str]]] | None = None,
) -> list[tuple[Path, M]]:
    """Every file of ``folder`` as ``model``, with its path; the first bad file raises."""
    return [
        (p, load_file(model, p, code=code, check=check))
        for p in yaml_files(folder, code=code, missing_ok=missing_ok)
    ]


__all__ = [
    "MAPPINGS_DIR",
    "MappingError",
    "load_file",
    "load_folder",
    "problems_of",
    "read_yaml",
    "validate",
    "yaml_files",
]
