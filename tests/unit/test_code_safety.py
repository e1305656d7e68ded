"""Proofs over the source of gateway/, parsers/, mappings/ and schemas/ (by AST, not by hope).

The managed-file-transfer breaches this gateway must not repeat came through SQL injection
(MOVEit 2023) and unsafe deserialisation (GoAnywhere 2023). These tests fail the build when
code that could reintroduce either appears, and equally for eval/exec, shell=True, SSH host-key
auto-acceptance and float() near money. Every allowed exception is listed below with its reason;
adding one is a reviewed change to this file.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "parsers", "mappings", "schemas")
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|ANALYZE|"
    r"TRUNCATE|GRANT|WHERE|VALUES)\b"
)

#: files allowed to build SQL text with f-strings, and why that is safe there
SQL_BUILD_ALLOWED = {
    "gateway/db/base.py": "PRAGMA busy_timeout from the int constant SQLITE_BUSY_TIMEOUT_MS; "
    "PRAGMA takes no bound parameters",
    "gateway/ingest/bulk.py": "bulk COPY/INSERT: table and column names from our own "
    "metadata, quoted by the dialect; rows go as parameters",
    "gateway/reconcile/sql.py": "temporary-table DDL: names are code constants (rc_*), DDL "
    "takes no bound parameters",
    "gateway/reconcile/service.py": "splices column lists, temp-table names and dialect "
    "expressions (sql.cents) from code; every value is a bound "
    "parameter (:lo, :hi, ...)",
    "gateway/reconcile/nocharge_sql.py": "the no-charge path's SQL from sql.py's fragments and "
    "the chunk condition on the rc_cand temp table; values are bound parameters",
    "gateway/reconcile/chunk.py": "splices the chunk condition and sql.NOT_FAST on the rc_cand "
    "temp table from code; values are bound parameters",
    "gateway/reconcile/facts.py": "splices column lists, temp-table names and dialect "
    "expressions (sql.cents) from code; values are bound parameters",
    "gateway/reconcile/steps.py": "splices the FROM clause sql.ledger builds on a temp table "
    "named in code; no values",
    "gateway/reconcile/linking.py": "splices a column list and an optional JOIN on a temp "
    "table named in code; values are bound parameters",
    "gateway/reconcile/medicare_load.py": "splices the chunk condition on the rc_cand temp "
    "table from service.py; values are bound parameters",
    "gateway/db/migrations/versions/0025_credit_facts.py": "the credit_facts trigger DDL and "
    "backfills, composed from the migration's constant column lists and dialect expressions; "
    "trigger bodies take no bound parameters, and no value reaches them",
    "gateway/db/migrations/versions/0026_credit_facts_trigger_cost.py": "recreates 0025's "
    "update triggers with a WHEN condition over 0025's constant column lists and sets its "
    "trigger functions' planner setting; no values",
}
#: files allowed to call float(), and why no money goes through it
FLOAT_ALLOWED = {
    "gateway/api/metrics.py": "Prometheus sample values (durations, counts); no amounts",
    "gateway/intake/poller.py": "poll back-off in seconds",
    "gateway/outbound/queue.py": "retry delay in seconds",
}
UNSAFE_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}


@functools.cache
def _parsed() -> tuple[tuple[str, ast.Module, str], ...]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            out.append((path.relative_to(ROOT).as_posix(), ast.parse(text, str(path)), text))
    return tuple(out)


def sources() -> Iterator[tuple[str, ast.Module, str]]:
    """(path, AST, text) of every module; parsed once per test session."""
    yield from _parsed()


def calls(tree: ast.AST) -> Iterator[tuple[ast.Call, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            yield node, name


def _sql_constant(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(SQL_WORDS.search(node.value))
    )


def _is_built_sql(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):  # f"... SELECT ... {x}"
        return any(_sql_constant(v) for v in node.values) and any(
            isinstance(v, ast.FormattedValue) for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # "... %s" % x
        return _sql_constant(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "SELECT ..." + x
        both_constant = isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant)
        return (_sql_constant(node.left) or _sql_constant(node.right)) and not both_constant
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # "...".format()
        return node.func.attr == "format" and _sql_constant(node.func.value)
    return False


def built_sql(tree: ast.AST) -> Iterator[int]:
    """Lines where SQL text is assembled from runtime values: f-string, %, + or .format()."""
    for node in ast.walk(tree):
        if _is_built_sql(node):
            yield getattr(node, "lineno", 0)


def test_the_scan_sees_the_code_base() -> None:
    files = [name for name, _, _ in sources()]
    assert len(files) > 50
    assert "gateway/audit.py" in files
    assert "parsers/ledger.py" in files


def test_no_unsafe_deserialisation_modules() -> None:
    found = []
    for name, tree, _ in sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            found += [
                f"{name}:{node.lineno} {m}" for m in mods if m.split(".")[0] in UNSAFE_MODULES
            ]
    assert found == []


def test_yaml_only_through_safe_load() -> None:
    found = []
    for name, tree, text in sources():
        for node, fn in calls(tree):
            f = node.func
            if (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id == "yaml"
                and fn
                not in {
                    "safe_load",
                    "safe_load_all",
                    "safe_dump",
                    "safe_dump_all",
                    "dump",
                    "YAMLError",
                }
            ):
                found.append(f"{name}:{node.lineno} yaml.{fn}")
        for bad in ("UnsafeLoader", "yaml.Loader", "FullLoader", "unsafe_load"):
            if bad in text:
                found.append(f"{name}: {bad}")
    assert found == []


def test_no_eval_exec_or_dynamic_code() -> None:
    found = [
        f"{name}:{node.lineno} {fn}()"
        for name, tree, _ in sources()
        for node, fn in calls(tree)
        if isinstance(node.func, ast.Name) and fn in {"eval", "exec", "compile", "__import__"}
    ]
    assert found == []


def test_no_shell_commands() -> None:
    found = []
    for name, tree, _ in sources():
        for node, fn in calls(tree):
            if any(
                k.arg == "shell"
                and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            ):
                found.append(f"{name}:{node.lineno} shell=")
            if (
                isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os"
                and fn
                in {"system", "popen"}
                | {f"exec{s}" for s in ("l", "le", "lp", "lpe", "v", "ve", "vp", "vpe")}
            ):
                found.append(f"{name}:{node.lineno} os.{fn}")
    assert found == []


def test_ssh_host_keys_are_never_auto_accepted() -> None:
    found = [
        f"{name}: {bad}"
        for name, _, text in sources()
        for bad in ("AutoAddPolicy", "WarningPolicy", "look_for_keys=True")
        if bad in text
    ]
    assert found == []


def test_no_string_built_sql_outside_reviewed_files() -> None:
    found = [
        f"{name}:{line}"
        for name, tree, _ in sources()
        if name not in SQL_BUILD_ALLOWED
        for line in built_sql(tree)
    ]
    assert found == [], "build SQL with bound parameters or SQLAlchemy Core, not strings"


def test_allowed_sql_files_exist_and_still_need_their_exception() -> None:
    """A stale exception is removed, so the allowlist never silently widens."""
    by_name = {name: tree for name, tree, _ in sources()}
    for name in SQL_BUILD_ALLOWED:
        assert name in by_name, f"{name} is gone: drop it from SQL_BUILD_ALLOWED"
        assert list(built_sql(by_name[name])), f"{name} no longer builds SQL: drop it"


def test_no_float_outside_reviewed_files() -> None:
    """Money is Decimal end to end; float() appears only where no amount can reach it."""
    found = [
        f"{name}:{node.lineno}"
        for name, tree, _ in sources()
        if name not in FLOAT_ALLOWED
        for node, fn in calls(tree)
        if isinstance(node.func, ast.Name) and fn == "float"
    ]
    assert found == []


@pytest.mark.parametrize(
    "snippet",
    [
        'conn.execute(text(f"SELECT * FROM t WHERE id = {x}"))',
        'cur.execute("DELETE FROM t WHERE id = %s" % x)',
        'q = "SELECT * FROM t WHERE name = \'" + name + "\'"',
        'sql = "UPDATE t SET a = {}".format(v)',
    ],
)
def test_the_sql_detector_catches_the_classic_forms(snippet: str) -> None:
    assert list(built_sql(ast.parse(snippet)))


@pytest.mark.parametrize(
    "snippet",
    [
        'conn.execute(text("SELECT * FROM t WHERE id = :id"), {"id": x})',
        'log.info(f"deleted {n} rows")',
        'msg = "SELECT" " * FROM t"',
    ],
)
def test_the_sql_detector_passes_parameterised_sql(snippet: str) -> None:
    assert not list(built_sql(ast.parse(snippet)))
