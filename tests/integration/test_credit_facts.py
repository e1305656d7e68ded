"""The KPI figures kept at write time (migration 0025), on SQLite and PostgreSQL: the
``credit_facts`` rows the triggers keep, and each remittance's counted claims.

Worked by hand from kpi_data's table: C8 (ACME01, overpayment, 45.00, identified 2026-05-20,
disputed 05-25, resolved from disputed 06-09, posting_error) is the fact row (not active,
payer ACME01, 4500 cents, resolved 2026-06-09 in 2026-06 after 20 days, kind won, disputed in
2026-05). C4 is owed to the patient: payer key "patient", payer id "", no case, so root
cause "unassigned". June's ERA (R4 1000.00, R1's reversal -80.00) counts 1 claim and 92000
cents; its re-sent copy counts nothing while the first copy is there.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from alembic import command
from sqlalchemy import and_, delete, func, select, text, update

from gateway.db.migrate import alembic_config
from gateway.db.remittance_rows import ClaimPaymentRow, RemittanceRow
from gateway.db.types import tbl
from gateway.ingest.replay import process_now, replay
from gateway.intake import accept_bytes
from gateway.reconcile import ledger_ingest
from gateway.reconcile.tables import ClaimDepartment, Credit
from gateway.reporting import trend
from gateway.reporting.tables import CreditFact
from gateway.resolve.history import record_transition
from gateway.resolve.tables import CaseTransition, ResolutionCase
from tests.integration.helpers import Gateway, ingest
from tests.integration.kpi_data import AS_OF, LEDGER, build, june_835

CT, RC, F = tbl(Credit), tbl(ResolutionCase), tbl(CreditFact)
CD = tbl(ClaimDepartment)
FIELDS = tuple(c.name for c in F.columns)


def _migration() -> Any:
    return importlib.import_module("gateway.db.migrations.versions.0025_credit_facts")


def _kind(r: Any) -> str:
    if r.resolution == "recouped_by_plb":
        return "recouped"
    if r.resolved_from == "disputed":
        return "won"
    if r.resolution == "refund_posted":
        return "refunded"
    if r.method == "offset":
        return "offset"
    if r.method in ("refund", "patient_refund"):
        return "refunded"
    return "closed_other"


def expected(gw: Gateway) -> dict[int, tuple[Any, ...]]:
    """The fact rows computed in Python from credits and cases (not from the trigger SQL)."""
    out = {}
    with gw.db.read() as s:
        for r in s.execute(
            select(
                CT,
                RC.c.state,
                RC.c.method,
                RC.c.root_cause,
                RC.c.resolved_on.label("case_resolved_on"),
                RC.c.resolved_from,
                RC.c.disputed_on,
                CD.c.department,
            )
            .select_from(CT.outerjoin(RC, RC.c.credit_id == CT.c.id))
            .outerjoin(
                CD,
                and_(
                    CD.c.provider_id == CT.c.provider_id,
                    CD.c.patient_control_number == CT.c.patient_control_number,
                ),
            )
        ):
            resolved = r.status == "resolved" or r.state == "resolved"
            day = (r.resolved_on or r.case_resolved_on) if resolved else None
            out[r.id] = (
                r.id,
                r.provider_id,
                not resolved,
                r.government,
                r.identified_on,
                r.identified_on.strftime("%Y-%m"),
                r.payer_id or r.owed_to,
                r.payer_id,
                r.cause,
                r.root_cause or "unassigned",
                int(r.amount * 100),
                day,
                day.strftime("%Y-%m") if day else None,
                max(0, (day - r.identified_on).days) if day else None,
                _kind(r) if resolved else None,
                r.disputed_on,
                r.disputed_on.strftime("%Y-%m") if r.disputed_on else None,
                r.department,
            )
    return out


def facts(gw: Gateway) -> dict[int, tuple[Any, ...]]:
    with gw.db.read() as s:
        return {r.credit_id: tuple(r) for r in s.execute(select(F))}


def test_every_trigger_is_there_at_head(gw: Gateway) -> None:
    """A batch migration that copies ``credits`` on SQLite would drop them silently; on
    PostgreSQL their functions look rows up by index whatever the statistics say."""
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if gw.db.is_sqlite
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    with gw.db.read() as s:
        names = set(s.execute(text(sql)).scalars())
        settings: dict[str, str] = (
            {}
            if gw.db.is_sqlite
            else dict(
                s.execute(
                    text(
                        "SELECT proname, array_to_string(proconfig, ',') FROM pg_proc "
                        "WHERE proname LIKE 'credit_facts_from_%'"
                    )
                ).all()
            )
        )
    assert set(_migration().TRIGGERS) <= names
    if not gw.db.is_sqlite:
        # a session's cached plans from the statistics of a small table were sequential
        # scans: a 100,000-credit reconcile took minutes (migration 0026)
        assert settings == {
            f"credit_facts_from_{part}": "enable_seqscan=off"
            for part in ("credit", "case", "department")
        }


def test_facts_follow_every_write(gw: Gateway) -> None:
    """After the data set's writes (reconciliation-style inserts, the case writer) and after
    raw statements no application code path knows (an amount change, a credit resolved by
    hand, a root cause, a case moved to another credit, a case and a credit deleted), every
    fact row is what Python computes from credits and cases."""
    ids = build(gw)
    got = facts(gw)
    assert got == expected(gw)
    c8 = dict(zip(FIELDS, got[ids["C8"]], strict=True))
    assert {k: v for k, v in c8.items() if k not in ("credit_id", "provider_id")} == {
        "active": False,
        "government": False,
        "identified_on": dt.date(2026, 5, 20),
        "identified_month": "2026-05",
        "payer": "ACME01",
        "payer_id": "ACME01",
        "cause": "overpayment",
        "root_cause": "posting_error",
        "cents": 4500,
        "resolved_on": dt.date(2026, 6, 9),
        "resolved_month": "2026-06",
        "resolve_days": 20,
        "resolution_kind": "won",
        "disputed_on": dt.date(2026, 5, 25),
        "disputed_month": "2026-05",
        "department": "d:Radiology",  # KPI8: Radiology 10.00 named, 900.00 on rev 0450 unnamed
    }
    c4 = dict(zip(FIELDS, got[ids["C4"]], strict=True))
    assert (c4["payer"], c4["payer_id"], c4["root_cause"], c4["active"]) == (
        "patient",
        "",
        "unassigned",
        True,
    )
    with gw.db.write() as s:
        s.execute(update(CT).where(CT.c.id == ids["C1"]).values(amount="123.45"))
        s.execute(
            update(CT)
            .where(CT.c.id == ids["C3"])
            .values(status="resolved", resolution="refund_posted", resolved_on=AS_OF)
        )
        s.execute(update(RC).where(RC.c.credit_id == ids["C9"]).values(root_cause="payer_error"))
        case9 = s.execute(select(RC.c.id).where(RC.c.credit_id == ids["C9"])).scalar_one()
        s.execute(update(RC).where(RC.c.id == case9).values(state="resolved"))
        noon = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
        record_transition(s, case9, "disputed", "resolved", actor="t", reason="won", at=noon)
        case8 = s.execute(select(RC.c.id).where(RC.c.credit_id == ids["C8"])).scalar_one()
        s.execute(delete(tbl(CaseTransition)).where(tbl(CaseTransition).c.case_id == case8))
        s.execute(delete(RC).where(RC.c.id == case8))
        s.execute(delete(CT).where(CT.c.id == ids["C8"]))
    got = facts(gw)
    assert got == expected(gw)
    assert ids["C8"] not in got
    assert got[ids["C1"]][FIELDS.index("cents")] == 12345
    assert got[ids["C3"]][FIELDS.index("resolution_kind")] == "refunded"
    c9 = dict(zip(FIELDS, got[ids["C9"]], strict=True))
    assert (c9["root_cause"], c9["resolved_on"], c9["resolution_kind"]) == (
        "payer_error",
        AS_OF,
        "won",
    )


def test_an_update_that_changes_no_read_column_leaves_the_fact_row_alone(gw: Gateway) -> None:
    """Reconciliation rewrites every persisting credit with the amount, status and government
    it had (migration 0026): the row is not rebuilt then. Seen by planting a wrong figure in
    C1's and C9's fact rows: a same-value update keeps it, a changed value rebuilds the row.
    A case's and a department's update behave alike."""
    ids = build(gw)
    c1, c9 = ids["C1"], ids["C9"]
    planted = update(F).where(F.c.credit_id.in_([c1, c9])).values(cents=-1)
    with gw.db.write() as s:
        s.execute(planted)
        s.execute(update(CT).where(CT.c.id == c1).values(amount=CT.c.amount, status=CT.c.status))
        s.execute(update(RC).where(RC.c.credit_id == c9).values(root_cause=RC.c.root_cause))
        s.execute(update(CD).values(department=CD.c.department))
        s.execute(update(CT).where(CT.c.id == c1).values(last_run_id=CT.c.last_run_id + 1))
    got = facts(gw)
    assert got[c1][FIELDS.index("cents")] == -1
    assert got[c9][FIELDS.index("cents")] == -1
    with gw.db.write() as s:
        s.execute(update(CT).where(CT.c.id == c1).values(amount=CT.c.amount + 1))
        s.execute(update(RC).where(RC.c.credit_id == c9).values(root_cause="payer_error"))
    assert facts(gw) == expected(gw)


def _stored_counts(gw: Gateway) -> dict[int, tuple[int, int]]:
    rm = tbl(RemittanceRow)
    with gw.db.read() as s:
        return {
            r.id: (r.counted_claims, r.counted_paid_cents)
            for r in s.execute(select(rm.c.id, rm.c.counted_claims, rm.c.counted_paid_cents))
        }


def _recounted(gw: Gateway) -> dict[int, tuple[int, int]]:
    """The counts from every claim payment, with the resend rule written out in Python: a
    twin counts only when no row with a smaller id has its identity."""
    cp = tbl(ClaimPaymentRow)
    with gw.db.read() as s:
        rows = s.execute(select(cp).order_by(cp.c.id)).all()
        out = {int(i): (0, 0) for i in s.execute(select(tbl(RemittanceRow).c.id)).scalars()}
    seen: set[tuple[Any, ...]] = set()
    for r in rows:
        identity = (r.patient_control_number, r.provider_id, r.resend_key)
        counted = not r.resend_twin or identity not in seen
        seen.add(identity)
        if counted:
            claims, cents = out[r.remittance_id]
            out[r.remittance_id] = (claims + (r.status_code != "22"), cents + int(r.paid * 100))
    return out


def test_remittance_counts_follow_a_resend_and_a_replay(gw: Gateway) -> None:
    """June's ERA counts 1 claim and 92000 cents, its re-sent copy nothing. Replaying the first
    copy deletes its rows and loads them again after the copy: the copy now counts and the
    reloaded first copy is the twin; the rates' June stays 1 claim and 920.00 throughout."""
    build(gw)
    resent = ingest(gw, june_835().replace(b"000009102", b"000009199"), "kpi-b-resent.835")
    assert resent.state == "processed"
    rm = tbl(RemittanceRow)
    with gw.db.read() as s:
        by_file = {
            int(r.file_id): int(r.id)
            for r in s.execute(select(rm.c.file_id, rm.c.id).where(rm.c.counted_claims >= 0))
        }
        first = s.execute(
            text("SELECT id FROM inbound_files WHERE original_name = 'kpi-b.835'")
        ).scalar_one()

    def june() -> tuple[int, Any]:
        with gw.db.read() as s:
            rows = trend.rates(s, as_of=AS_OF, months=3).rows
        row = next(r for r in rows if (r.payer_id, r.month) == ("ACME01", "2026-06"))
        return row.claims, row.paid

    counts = _stored_counts(gw)
    assert counts == _recounted(gw)
    assert counts[by_file[first]] == (1, 92000)
    assert counts[by_file[resent.file_id]] == (0, 0)
    assert june() == (1, pytest.approx(920))

    again = replay(gw.db, gw.store, gw.settings, first, actor="ops", reason="check")
    assert again.report.state == "processed"
    counts = _stored_counts(gw)
    assert counts == _recounted(gw)
    with gw.db.read() as s:
        reloaded = s.execute(select(rm.c.id).where(rm.c.file_id == first)).scalar_one()
    assert counts[by_file[resent.file_id]] == (1, 92000)
    assert counts[reloaded] == (0, 0)
    assert june() == (1, pytest.approx(920))


def test_migration_fills_facts_and_counts_from_existing_rows(gw: Gateway, db_url: str) -> None:
    """Down to 0024 and up again: the backfill writes the same facts and counts the triggers
    and the loader wrote."""
    build(gw)
    ingest(gw, june_835().replace(b"000009102", b"000009199"), "kpi-b-resent.835")
    before_facts, before_counts = facts(gw), _stored_counts(gw)
    assert before_facts
    assert any(c != (0, 0) for c in before_counts.values())
    cfg = alembic_config(db_url)
    with gw.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0024")
    with gw.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert facts(gw) == before_facts
    assert _stored_counts(gw) == before_counts
    with gw.db.read() as s:
        assert s.execute(select(func.count()).select_from(F)).scalar_one() == len(before_facts)


def test_a_later_ledger_moves_a_claims_department_on_its_credit(gw: Gateway) -> None:
    """KPI3's charges name no department (rev 0450 300.00, 0300 100.00): "r:045". A later
    ledger posts a 50.00 Laboratory charge on it: a named department wins, "d:Laboratory".
    KPI7 (a payment only) has none and keeps none."""
    ids = build(gw)
    got = facts(gw)
    dept = FIELDS.index("department")
    assert (got[ids["C3"]][dept], got[ids["C7"]][dept]) == ("r:045", None)
    header = LEDGER.split(b"\n", 1)[0]
    later = header + b"\nA3,KPI3,2026-06-20,charge,provider,,50.00,L99,0300,Laboratory\n"
    accepted = accept_bytes(gw.db, gw.store, later, source="test", original_name="kpi-l2.csv")
    with gw.db.write() as s:  # two providers now: say whose ledger it is
        ledger_ingest.declare(s, accepted.file_id, ids["P1"], "pytest")
    assert process_now(gw.db, gw.store, gw.settings, accepted.file_id).state == "processed"
    got = facts(gw)
    assert (got[ids["C3"]][dept], got[ids["C7"]][dept]) == ("d:Laboratory", None)
    assert got == expected(gw)
