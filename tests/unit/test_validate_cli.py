"""``gateway validate`` end to end through typer's CliRunner, on real corpus files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from parsers.x12.lexer import Lexer
from tests.conftest import CORPUS

runner = CliRunner()
CLEAN = CORPUS / "keironstoddart-edi-835-parser" / "emedny_sample.txt"
BAD_AMOUNT = CORPUS / "affect-therapeutics-edi-835-parser" / "sample_835.txt"
TRUNCATED = CORPUS / "oopfactory-x12parser" / "_837P" / "_5010" / "UnicodeExample.txt"


def test_clean_file_exits_0_and_writes_an_accepting_999(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(CLEAN), "--ack-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["emedny_sample.006000600.6000600.999.x12"]
    segs = [s.split("*") for s in Lexer((tmp_path / written[0]).read_bytes())]
    assert ["IK5", "A"] in segs


def test_errors_exit_1_and_say_what_where_and_why(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(BAD_AMOUNT), "--ack-dir", str(tmp_path)])
    assert result.exit_code == 1
    out = result.output
    assert "bad_number" in out
    assert "segment 23 (CAS03), line 23, byte 790" in out
    assert "'amount' is not a number" in out
    assert "segment_count_mismatch" in out
    [ack] = list(tmp_path.iterdir())
    assert b"IK4*3*782*6*amount~" in ack.read_bytes()


def test_unreadable_file_exits_2_and_still_writes_a_ta1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(TRUNCATED), "--ack-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "UNREADABLE" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["UnicodeExample.001151933.ta1.x12"]
    assert b"*R*023~" in (tmp_path / "UnicodeExample.001151933.ta1.x12").read_bytes()


def test_not_x12_and_missing_files_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"not an edi file")
    result = runner.invoke(app, ["validate", str(junk), "--ack-dir", str(tmp_path / "acks")])
    assert result.exit_code == 2
    assert list((tmp_path / "acks").iterdir()) == []
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.x12")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_json_report_is_machine_readable() -> None:
    result = runner.invoke(app, ["validate", str(BAD_AMOUNT), "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["valid"] is False
    codes = {f["code"] for f in doc["findings"]}
    assert {"bad_number", "segment_count_mismatch"} <= codes
    assert doc["acknowledgments"][0]["status"] == "R"
    assert doc["ig_findings"] == []


def test_ig_reports_guide_findings_with_locations_and_survives_pyx12_crashes() -> None:
    result = runner.invoke(
        app,
        ["validate", str(CORPUS / "linuxforhealth-x12" / "medicare-part-a.835"), "--ig", "--json"],
    )
    assert result.exit_code == 1  # pyx12: PER (payer technical contact) is required
    doc = json.loads(result.output)
    per = [f for f in doc["ig_findings"] if f["location"]["segment_id"] == "PER"]
    assert per
    assert per[0]["code"].startswith("ig_segment_")
    assert per[0]["location"]["line"] == 11
    # pyx12 raises IndexError on this file; we report it as a finding, never a traceback
    result = runner.invoke(app, ["validate", str(BAD_AMOUNT), "--ig", "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert [f["code"] for f in doc["ig_findings"]] == ["ig_engine_error"]


def test_ig_clean_file_stays_valid() -> None:
    result = runner.invoke(app, ["validate", str(CLEAN), "--ig"])
    assert result.exit_code == 0, result.output


def test_repeated_control_numbers_still_get_unique_file_names(tmp_path: Path) -> None:
    path = CORPUS / "imsweb-x12-parser" / "x12_multiple_isa.txt"
    result = runner.invoke(app, ["validate", str(path), "--ack-dir", str(tmp_path), "--json"])
    doc = json.loads(result.output)
    assert len(doc["written"]) == len(doc["acknowledgments"]) == len(set(doc["written"]))
    assert not list(tmp_path.glob("*.part"))


def test_write_acks_never_overwrites_a_repeated_name(tmp_path: Path) -> None:
    from gateway.cli.validate import write_acks
    from parsers.ack import Acknowledgment, Acknowledgments

    same = [
        Acknowledgment("999", "000000001", "1", n, "A", "", f"ack {n}".encode()) for n in (1, 2, 3)
    ]
    paths = write_acks(Acknowledgments(same, 4), tmp_path, "in")
    assert [p.name for p in paths] == [
        "in.000000001.1.999.x12",
        "in.000000001.1.999.2.x12",
        "in.000000001.1.999.3.x12",
    ]
    assert [p.read_bytes() for p in paths] == [b"ack 1", b"ack 2", b"ack 3"]
