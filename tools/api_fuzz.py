"""Schemathesis campaign against a running gateway API, every operation × every role.

For each operation in the served ``/v1/openapi.json`` and each caller (``uploader``, ``ops``,
``auditor`` keys and no key at all) it generates requests (valid and invalid inputs) and checks:

- no server error (5xx),
- the response matches its documented status codes, content type and schema,
- no authorization bypass: a caller the route×role table does not allow never gets a 2xx/3xx.

``fuzz`` is what ``tests/integration/test_api_fuzz.py`` runs with a few examples per operation;
run this file for a longer campaign against a throwaway gateway it starts itself::

    .venv/bin/python -m tools.api_fuzz --examples 200

It prints the figures (requests, statuses, failures) and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

PUBLIC = "public"
ROLES = ("uploader", "ops", "auditor", "anonymous")


@dataclass
class Failure:
    operation: str
    caller: str
    kind: str  # server_error | schema | authz_bypass
    detail: str


@dataclass
class Report:
    requests: int = 0
    operations: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, kind: str) -> int:
        return sum(1 for f in self.failures if f.kind == kind)

    def summary(self) -> str:
        by_status = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"{self.requests} requests over {self.operations} operations × "
            f"{len(ROLES)} callers in {self.seconds:.1f} s; statuses {{{by_status}}}; "
            f"server errors {self.count('server_error')}, schema violations "
            f"{self.count('schema')}, authorization bypasses {self.count('authz_bypass')}"
        )


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]


def fuzz(
    base_url: str,
    keys: Mapping[str, str],
    access: Mapping[tuple[str, str], frozenset[str] | str],
    *,
    max_examples: int = 10,
    seed: int | None = 0,
    on_case: Callable[[], None] | None = None,
) -> Report:
    """Run the campaign; ``keys`` maps role → API key, ``access`` is the route×role table."""
    import schemathesis
    from schemathesis import GenerationMode

    report = Report()
    started = time.monotonic()
    spec = requests.get(
        f"{base_url}/v1/openapi.json",
        headers={"Authorization": f"Bearer {keys['auditor']}"},
        timeout=30,
    )
    spec.raise_for_status()
    schema = schemathesis.openapi.from_dict(spec.json())
    checks = _checks()
    session = requests.Session()
    ops = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    report.operations = len(ops)
    for op in ops:
        label = f"{op.method.upper()} {op.path}"
        allowed = access.get((op.method.upper(), op.path))
        if allowed is None:
            report.failures.append(
                Failure(label, "-", "authz_bypass", "operation missing from the route×role table")
            )
            continue
        strategy = st.one_of(
            op.as_strategy(GenerationMode.POSITIVE), op.as_strategy(GenerationMode.NEGATIVE)
        )
        for caller in ROLES:
            _campaign(
                report,
                strategy,
                label,
                caller,
                allowed,
                keys,
                base_url,
                session,
                checks,
                max_examples,
                seed,
                on_case,
            )
    report.seconds = time.monotonic() - started
    return report


def _campaign(
    report: Report,
    strategy: Any,
    label: str,
    caller: str,
    allowed: Any,
    keys: Mapping[str, str],
    base_url: str,
    session: requests.Session,
    checks: list[Any],
    max_examples: int,
    seed: int | None,
    on_case: Callable[[], None] | None,
) -> None:
    """One operation × one caller: ``max_examples`` generated requests, failures recorded."""
    headers = {} if caller == "anonymous" else {"Authorization": f"Bearer {keys[caller]}"}
    seen: set[tuple[str, str]] = set()

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is not None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        if case.headers:  # the key under test wins over generated headers
            case.headers.pop("Authorization", None)
        resp = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        report.requests += 1
        report.statuses[resp.status_code] += 1
        if on_case is not None:
            on_case()
        if resp.status_code >= 500:
            _record(
                report,
                seen,
                Failure(label, caller, "server_error", f"{resp.status_code}: {resp.text[:300]}"),
            )
        if allowed != PUBLIC and caller not in allowed and resp.status_code < 400:
            _record(
                report,
                seen,
                Failure(
                    label,
                    caller,
                    "authz_bypass",
                    f"{resp.status_code} for a caller the table forbids",
                ),
            )
        try:
            case.validate_response(resp, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - a failure: record it, go on
            kind = "server_error" if resp.status_code >= 500 else "schema"
            _record(
                report, seen, Failure(label, caller, kind, f"{resp.status_code}: {str(exc)[:400]}")
            )

    run()


def _record(report: Report, seen: set[tuple[str, str]], failure: Failure) -> None:
    key = (failure.kind, failure.detail[:60])
    if key not in seen:  # one example of each distinct failure is enough
        seen.add(key)
        report.failures.append(failure)


def main(argv: list[str] | None = None) -> int:
    """Start a throwaway gateway (SQLite, temp dir, 127.0.0.1), fuzz it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples", type=int, default=200, help="examples per operation and caller"
    )
    parser.add_argument("--seed", type=int, default=None, help="derandomize (default: random)")
    args = parser.parse_args(argv)

    import tempfile
    from pathlib import Path

    from gateway.db.base import Database
    from gateway.logging import configure_logging
    from gateway.settings import get_settings
    from gateway.store import store_from_settings
    from tests.integration.helpers import Gateway
    from tests.integration.test_api_access import ACCESS
    from tests.integration.test_api_support import make_keys, start_api

    configure_logging("ERROR", "json")
    with tempfile.TemporaryDirectory(prefix="gw-fuzz-") as tmp:
        settings = get_settings(data_dir=Path(tmp), max_upload_bytes=64 * 1024, log_level="ERROR")
        db = Database.from_settings(settings)
        from gateway.store.file import FileRawStore

        store = store_from_settings(settings)
        assert isinstance(store, FileRawStore)
        gw = Gateway(settings, db, store, {})
        _, server = start_api(gw, settings)
        try:
            keys = make_keys(gw, None)
            report = fuzz(server.url, keys, ACCESS, max_examples=args.examples, seed=args.seed)
        finally:
            server.stop()
            db.dispose()
    print(report.summary())
    for f in report.failures:
        print(f"FAIL {f.kind:13} {f.caller:9} {f.operation}: {f.detail}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
