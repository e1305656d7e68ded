"""PHI never leaves through the side doors: ingest every fixture (tests/fixtures/x12/*,
tests/fixtures/reconcile/**) and broken copies of them through the API with logging at DEBUG,
then grep logs, the files' error messages, the failures list, problem+json bodies and
``/metrics`` for the fixtures' patient names, member ids and dates of birth (phikit)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.db.models import InboundFile
from gateway.logging import configure_logging
from gateway.worker import run_worker
from tests.integration.helpers import Gateway, ingest
from tests.integration.phikit import fixture_files, leaks, phi_tokens
from tests.integration.test_api_support import make_keys, start_api


def _broken(data: bytes) -> list[bytes]:
    """Copies that fail in different places, each still carrying the file's PHI."""
    nm1 = data.find(b"NM1*")
    lead = data[nm1 : nm1 + 60] if nm1 >= 0 else data[:60]
    return [
        lead + data,  # not X12: starts with a patient segment (the message quotes the start)
        data.replace(b"~", b"~\nZZZ*1~", 3) if b"~" in data else data + b"garbage",
        data[: len(data) // 2],  # truncated mid-interchange
        data.replace(b"*D8*", b"*D8*2026", 1),  # a bad date element
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_phi_in_logs_errors_metrics_or_problems(
    gw: Gateway, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json")
    tokens = phi_tokens()
    assert {"SMITH", "19730501", "JS00111223333"} <= tokens
    settings = gw.settings.model_copy(update={"log_level": "DEBUG"})
    gw.settings = settings
    _app, server = start_api(gw, settings)
    keys = make_keys(gw, None)
    ops = {"Authorization": f"Bearer {keys['ops']}"}
    bodies: list[str] = []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            files = fixture_files()
            assert len(files) >= 40
            for path in files:
                data = path.read_bytes()
                for blob in [data, *_broken(data)]:
                    r = c.post(f"/v1/files?filename={path.name}", content=blob, headers=ops)
                    assert r.status_code < 500, r.text
                    if r.status_code >= 400:
                        bodies.append(r.text)
            # a problem body about a bad upload whose name carries PHI
            r = c.post(
                "/v1/files?filename=SMITH_JANE_19730501.txt", content=b"NM1*QC*1*SMITH", headers=ops
            )
            bodies.append(r.text)
            gw.settings = settings
            run_worker(gw.db, gw.store, settings, stop=threading.Event(), once=True)
            failures = c.get("/v1/failures?limit=500", headers=ops)
            assert failures.status_code == 200
            bodies.append(failures.text)
            metrics = c.get("/metrics", headers=ops)
            assert metrics.status_code == 200
            bodies.append(metrics.text)
            for fid in range(1, 400):
                r = c.get(f"/v1/files/{fid}/acks", headers=ops)
                if r.status_code >= 400:
                    bodies.append(r.text)
                bodies.append(c.get(f"/v1/files/{fid}", headers=ops).text)  # messages, findings
            bodies.append(
                c.post("/v1/files/999999/replay", json={"reason": "SMITH"}, headers=ops).text
            )
    finally:
        server.stop()
    # the inbox/SFTP path has no upload sniffing: every broken copy reaches the parsers
    for path in fixture_files():
        for blob in _broken(path.read_bytes()):
            report = ingest(gw, blob, name=path.name)
            assert report is not None
    with gw.db.read() as s:
        messages: list[Any] = list(
            s.execute(select(InboundFile.error_code, InboundFile.error_message)).all()
        )
    failed = [m for m in messages if m.error_message]
    assert len(failed) >= 20  # the broken copies really failed, with messages
    out, err = capfd.readouterr()
    logs = out + err
    assert "file_" in logs  # the pipeline really logged
    assert leaks(logs) == [], "PHI in logs"
    assert leaks("\n".join(str(m.error_message) for m in failed)) == [], "PHI in error_message"
    for body in bodies:
        assert leaks(body) == [], f"PHI in a response body: {body[:300]}"


def test_phi_check_has_teeth() -> None:
    """The grep finds PHI where it is (so a pass above means something)."""
    data = (fixture_files()[1]).read_bytes()
    assert leaks(data) != []
    assert leaks('{"detail": "not X12: starts with NM1*IL*1*SMITH*JANE"}') == ["JANE", "SMITH"]


def test_database_errors_never_quote_bound_values(db_url: str) -> None:
    """The attack: make a statement fail whose parameters carry a patient's name; the error's
    text (what a logged traceback or an error column would show) must not hold it, on both
    backends. SQLAlchemy otherwise appends ``[parameters: ('SECRETLAST',)]`` to the message."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from gateway.db.base import Database

    db = Database.from_url(db_url)
    try:
        with pytest.raises(DBAPIError) as caught, db.session() as s:
            s.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "SECRETLAST"})
        assert "no_such_table" in str(caught.value)  # the error is still specific
        assert "SECRETLAST" not in str(caught.value)
        assert "SECRETLAST" not in repr(caught.value)
    finally:
        db.engine.dispose()
