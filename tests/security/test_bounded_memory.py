"""Attack: exhaust the API pod's memory by asking for a large file's acks and console page
(issue 17, item 6).

``GET /v1/files/{id}/acks`` used to parse the whole stored file into its object graph on every
request (a 200 MB file: 36 s and 3.1 GB), and the console's file page read the whole file to
show 13 segments; three views at once took the pod past its 1 GiB limit. Now the worker
renders the acks once, from its own parse, into ``file_acks``, and the file page reads only
the page of segments it shows from the raw store's stream.

The server is ``gateway serve`` in a subprocess; its peak RSS (VmHWM, reset through
``/proc/PID/clear_refs`` once the file is uploaded and processed) may grow only far less than
the file's size while the acks and the console page are fetched three times each. Not timed:
the bound is on memory.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select

import parsers
from gateway.db.models import InboundFile
from gateway.ingest.acks import first_control_number
from gateway.ingest.tables import FileAck
from gateway.worker import run_worker
from parsers.ack import acknowledge
from tests.integration.helpers import ROOT, Gateway
from tests.integration.test_api_support import make_keys, serve_process
from tests.integration.x12gen import make_835

CLAIMS = 100_000  # about 40 MB


@pytest.fixture(scope="module")
def big_835(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.835"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "make_big_835.py"),
            "--claims",
            str(CLAIMS),
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return path


def serve(gw: Gateway, tmp_path: Path) -> contextlib.AbstractContextManager[tuple[str, int]]:
    return serve_process(gw, tmp_path, {"GATEWAY_MAX_UPLOAD_BYTES": str(256 * 1024 * 1024)})


def _status_kb(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match, field
    return int(match.group(1))


def _reset_peak(pid: int) -> None:
    """Reset the process's VmHWM to its current RSS (Linux: ``5`` > clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    assert _status_kb(pid, "VmHWM") <= _status_kb(pid, "VmRSS") + 1024


def _console_login(client: httpx.Client, key: str) -> None:
    form = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token
    r = client.post(
        "/console/login", data={"csrf": token.group(1), "key": key}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def _views(client: httpx.Client, key: str, fid: int) -> list[dict[str, object]]:
    """The file's acks, its console page and a later page of its segments."""
    acks = client.get(f"/v1/files/{fid}/acks", headers={"Authorization": f"Bearer {key}"})
    assert acks.status_code == 200, acks.text
    page = client.get(f"/console/files/{fid}")
    assert page.status_code == 200
    assert "    7  " in page.text
    assert 'id="segs-next"' in page.text
    later = client.get(f"/console/files/{fid}?seg=20")
    assert later.status_code == 200
    assert "   20  " in later.text
    assert 'id="segs-prev"' in later.text
    found: list[dict[str, object]] = acks.json()["acknowledgments"]
    return found


def test_acks_and_console_page_of_a_large_file_stay_small(
    gw: Gateway, tmp_path: Path, big_835: Path
) -> None:
    """Attack: three acks requests and three console views of a 24 MB 835, which used to
    take the server's memory up by many times the file's size."""
    keys = make_keys(gw, None)
    size = big_835.stat().st_size
    with serve(gw, tmp_path) as (url, pid), httpx.Client(base_url=url, timeout=120) as client:
        with big_835.open("rb") as body:
            r = client.post(
                "/v1/files", content=body.read(), headers={"Authorization": f"Bearer {keys['ops']}"}
            )
        assert r.status_code == 201, r.text
        fid = r.json()["id"]
        run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
        with gw.db.read() as s:
            stored = s.execute(
                select(FileAck.acknowledgments).where(FileAck.file_id == fid)
            ).scalar_one()
            assert s.get(InboundFile, fid).state == "processed"  # type: ignore[union-attr]
        assert stored
        assert {a["kind"] for a in stored} == {"999"}
        _console_login(client, keys["auditor"])
        warm = client.post(
            "/v1/files",
            content=make_835(62, claims=2),
            headers={"Authorization": f"Bearer {keys['ops']}"},
        ).json()["id"]
        run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
        _views(client, keys["auditor"], warm)  # first requests compile templates, etc.
        _reset_peak(pid)
        before = _status_kb(pid, "VmRSS")
        for _ in range(3):
            assert _views(client, keys["auditor"], fid) == stored  # the worker's, to the byte
        growth_kb = _status_kb(pid, "VmHWM") - before
    print(f"file {size / 2**20:.1f} MiB: server peak RSS grew {growth_kb / 1024:.1f} MiB")
    # whole-file reads grew it by at least the file's size (the acks by many times it)
    assert growth_kb * 1024 < size / 4


def test_stored_acks_equal_a_fresh_render_and_old_files_get_them_once(
    gw: Gateway, tmp_path: Path
) -> None:
    """Attack: make the stored acks differ from what the file says (or go missing for a file
    processed before they were stored): they must equal an independent whole-file render."""
    data = make_835(61, claims=5).replace(b"DTM*232*20240101", b"DTM*232*2024AB01", 1)
    keys = make_keys(gw, None)
    auth = {"Authorization": f"Bearer {keys['ops']}"}
    with serve(gw, tmp_path) as (url, _pid), httpx.Client(base_url=url, timeout=60) as client:
        fid = client.post("/v1/files", content=data, headers=auth).json()["id"]
        run_worker(gw.db, gw.store, gw.settings, stop=threading.Event(), once=True)
        with gw.db.read() as s:
            row = s.get(InboundFile, fid)
            assert row is not None
            assert row.processed_at is not None
            when = row.processed_at
            worker = s.execute(
                select(FileAck.acknowledgments).where(FileAck.file_id == fid)
            ).scalar_one()
        try:
            outcome: parsers.ParseResult | parsers.X12Error = parsers.parse(data)
        except parsers.X12Error as exc:
            outcome = exc
        fresh = acknowledge(data, outcome, control_number=first_control_number(fid), now=when)
        assert [a["content"].encode("latin-1") for a in worker] == [a.content for a in fresh.all]
        served = client.get(f"/v1/files/{fid}/acks", headers=auth).json()["acknowledgments"]
        assert served == worker
        # a file processed before migration 0016 has no stored acks: rendered once, stored
        with gw.db.write() as s:
            s.execute(delete(FileAck).where(FileAck.file_id == fid))
        again = client.get(f"/v1/files/{fid}/acks", headers=auth).json()["acknowledgments"]
        assert again == worker
        with gw.db.read() as s:
            assert (
                s.execute(
                    select(FileAck.acknowledgments).where(FileAck.file_id == fid)
                ).scalar_one()
                == worker
            )
