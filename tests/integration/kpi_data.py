"""The hand-built data set of the KPI report tests (tests/integration/test_kpi_reports.py).

Provider P1 (NPI 1234567893, created by ingesting two ACME01 835s) and P2 (NPI 1111111112).
Working day 2026-06-30; report windows of 3 months are April, May and June 2026.

credit prov payer  gov cause               amount identified how it stands
C1     P1   MCR    yes overpayment         100.00 2026-06-20 active, due 07-05; registration_error
C2     P1   MCR    yes duplicate_payment   250.50 2026-04-15 active, due 06-14 (past)
C3     P1   ACME01 no  overpayment          40.25 2026-05-10 active; payer_error
C4     P1   -      no  patient_overpayment  20.00 2025-12-01 active (owed to the patient)
C5     P1   ACME01 no  overpayment          60.00 2026-04-01 resolved 04-21: recouped_by_plb
C6     P1   ACME01 no  duplicate_payment    75.00 2026-05-01 refund: refund_sent -> resolved 05-31;
                                                             payer_error
C7     P1   MCR    yes overpayment          30.00 2026-05-05 offset_requested -> resolved 06-04
C8     P1   ACME01 no  overpayment          45.00 2026-05-20 disputed 05-25, resolved from disputed
                                                             06-09; posting_error
C9     P1   ACME01 no  overpayment          12.00 2026-06-02 disputed 06-10 (still)
C10    P2   ACME01 no  overpayment         999.99 2026-06-01 active

ACME01 835s for P1: paid 2026-05-15: claims R1 80.00, R2 150.00, R3 270.00 (3 claims, 500.00);
paid 2026-06-10: R4 1000.00 and the reversal of R1 (CLP02 22, -80.00): 1 claim, 920.00 net.

P1's ledger (``LEDGER``), charges by claim; department as named, else revenue code:
KPI1 Emergency 500.00, Radiology 200.00        KPI6 Emergency 80.00
KPI2 Radiology 300.00, Emergency 100.00        KPI7 no charge (a payment posted by Billing)
KPI3 (none) 0450 300.00, 0300 100.00           KPI8 Radiology 10.00, (none) 0450 900.00
KPI5 Emergency 400.00 and its reversal -400.00, Laboratory 50.00
KPI9 Emergency 60.00
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from gateway.db.base import Database
from gateway.db.models import Provider
from gateway.db.types import tbl, utcnow
from gateway.reconcile.tables import Credit
from gateway.resolve.history import record_transition
from gateway.resolve.tables import ResolutionCase
from tests.integration.helpers import Gateway, ingest

AS_OF = dt.date(2026, 6, 30)
P1_NPI = "1234567893"
P2_NPI = "1111111112"


def _835(control: int, day: str, claims: list[tuple[str, str, str, str]]) -> bytes:
    """A balanced claim-level 835 from ACME01: (pcn, status, charge, paid) per claim, the
    difference a CO-45 adjustment."""
    total = sum((Decimal(p) for _, _, _, p in claims), Decimal(0))
    body: list[str] = []
    for pcn, status, charge, paid in claims:
        co = Decimal(charge) - Decimal(paid)
        body += [
            f"CLP*{pcn}*{status}*{charge}*{paid}*0*12*ICN{pcn}*11*1",
            f"CAS*CO*45*{co}",
            "NM1*QC*1*TESTPATIENT*ALEX****MI*XXTEST0001",
        ]
    st = [
        "ST*835*0001",
        f"BPR*I*{total}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{day}",
        f"TRN*1*TRACEKPI{control}*1512345678",
        f"DTM*405*{day}",
        "N1*PR*ACME HEALTH PLAN",
        "N3*1 PAYER WAY",
        "N4*CITY*ST*12345",
        "REF*2U*ACME01",
        f"N1*PE*GOOD CLINIC*XX*{P1_NPI}",
        "REF*TJ*123456789",
        "LX*1",
        *body,
    ]
    st.append(f"SE*{len(st) + 1}*0001")
    icn = f"{control:09d}"
    segs = [
        "ISA*00*          *00*          *ZZ*SACME01        *ZZ*RECEIVER       "
        f"*260701*1200*^*00501*{icn}*0*P*:",
        f"GS*HP*SACME01*RECEIVER*{day}*1200*{control}*X*005010X221A1",
        *st,
        f"GE*1*{control}",
        f"IEA*1*{icn}",
    ]
    return ("~\n".join(segs) + "~\n").encode()


LEDGER = b"""\
account_id,patient_control_number,posted_date,type,party,payer_id,amount,reference,\
revenue_code,department
A1,KPI1,2026-06-01,charge,provider,,500.00,L1,0450,Emergency
A1,KPI1,2026-06-01,charge,provider,,200.00,L2,0320,Radiology
A2,KPI2,2026-04-01,charge,provider,,300.00,L3,0320,Radiology
A2,KPI2,2026-04-01,charge,provider,,100.00,L4,0450,Emergency
A3,KPI3,2026-05-01,charge,provider,,300.00,L5,0450,
A3,KPI3,2026-05-01,charge,provider,,100.00,L6,0300,
A5,KPI5,2026-03-20,charge,provider,,400.00,L7,0450,Emergency
A5,KPI5,2026-03-21,charge,provider,,-400.00,L8,0450,Emergency
A5,KPI5,2026-03-21,charge,provider,,50.00,L9,0300,Laboratory
A6,KPI6,2026-04-25,charge,provider,,80.00,L10,0450,Emergency
A7,KPI7,2026-05-01,payment,patient,,30.00,L11,,Billing
A8,KPI8,2026-05-10,charge,provider,,10.00,L12,0320,Radiology
A8,KPI8,2026-05-10,charge,provider,,900.00,L13,0450,
A9,KPI9,2026-06-01,charge,provider,,60.00,L14,0450,Emergency
"""


def _credit(
    pid: int, n: int, payer: str, gov: bool, cause: str, amount: str, ident: str, **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "provider_id": pid,
        "account_id": f"A{n}",
        "patient_control_number": f"KPI{n}",
        "owed_to": "payer" if payer else "patient",
        "payer_id": payer,
        "cause": cause,
        "amount": Decimal(amount),
        "government": gov,
        "deadline_days": 60 if gov else None,
        "identified_on": dt.date.fromisoformat(ident),
        "due_by": None,
        "status": "open",
        "resolved_on": None,
        "resolution": None,
        "first_run_id": 1,
        "last_run_id": 1,
        "updated_at": utcnow(),
    }
    row.update(kw)
    return row


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


def june_835() -> bytes:
    """ACME01's June remittance: R4 paid 1000.00 and R1's reversal (-80.00)."""
    return _835(
        9102, "20260610", [("R4", "1", "1000.00", "1000.00"), ("R1", "22", "-100.00", "-80.00")]
    )


def build(gw: Gateway) -> dict[str, int]:
    """Load the data set; returns credit name → credits.id (and 'P1'/'P2' → provider id)."""
    a = _835(
        9101,
        "20260515",
        [
            ("R1", "1", "100.00", "80.00"),
            ("R2", "1", "200.00", "150.00"),
            ("R3", "1", "300.00", "270.00"),
        ],
    )
    b = june_835()
    assert ingest(gw, a, "kpi-a.835").state == "processed"
    assert ingest(gw, b, "kpi-b.835").state == "processed"
    assert ingest(gw, LEDGER, "kpi-ledger.csv").state == "processed"  # P1: the only provider
    return load_credits(gw.db)


def load_credits(db: Database) -> dict[str, int]:
    pt, ct, rc = tbl(Provider), tbl(Credit), tbl(ResolutionCase)
    with db.write() as s:
        p1 = s.execute(select(pt.c.id).where(pt.c.key == f"npi:{P1_NPI}")).scalar_one_or_none()
        if p1 is None:
            p1 = s.execute(
                insert(pt)
                .values(key=f"npi:{P1_NPI}", npi=P1_NPI, name="Clinic", created_at=utcnow())
                .returning(pt.c.id)
            ).scalar_one()
        p2 = s.execute(
            insert(pt)
            .values(key=f"npi:{P2_NPI}", npi=P2_NPI, name="Other", created_at=utcnow())
            .returning(pt.c.id)
        ).scalar_one()
        d = dt.date.fromisoformat
        rows = {
            "C1": _credit(
                p1, 1, "MCR", True, "overpayment", "100.00", "2026-06-20", due_by=d("2026-07-05")
            ),
            "C2": _credit(
                p1,
                2,
                "MCR",
                True,
                "duplicate_payment",
                "250.50",
                "2026-04-15",
                due_by=d("2026-06-14"),
            ),
            "C3": _credit(p1, 3, "ACME01", False, "overpayment", "40.25", "2026-05-10"),
            "C4": _credit(p1, 4, "", False, "patient_overpayment", "20.00", "2025-12-01"),
            "C5": _credit(
                p1,
                5,
                "ACME01",
                False,
                "overpayment",
                "60.00",
                "2026-04-01",
                status="resolved",
                resolved_on=d("2026-04-21"),
                resolution="recouped_by_plb",
            ),
            "C6": _credit(p1, 6, "ACME01", False, "duplicate_payment", "75.00", "2026-05-01"),
            "C7": _credit(
                p1, 7, "MCR", True, "overpayment", "30.00", "2026-05-05", due_by=d("2026-07-04")
            ),
            "C8": _credit(p1, 8, "ACME01", False, "overpayment", "45.00", "2026-05-20"),
            "C9": _credit(p1, 9, "ACME01", False, "overpayment", "12.00", "2026-06-02"),
            "C10": _credit(p2, 10, "ACME01", False, "overpayment", "999.99", "2026-06-01"),
        }
        ids: dict[str, int] = {"P1": p1, "P2": p2}
        for name, row in rows.items():
            ids[name] = s.execute(insert(ct).values(**row).returning(ct.c.id)).scalar_one()
        # cases: (credit, state, method, root cause, [(from, to, day)])
        cases: list[tuple[str, str, str | None, str | None, list[tuple[str | None, str, str]]]] = [
            ("C1", "open", None, "registration_error", [(None, "open", "2026-06-20")]),
            ("C2", "open", None, None, [(None, "open", "2026-04-15")]),
            ("C3", "open", None, "payer_error", [(None, "open", "2026-05-10")]),
            ("C4", "open", None, None, [(None, "open", "2025-12-01")]),
            (
                "C6",
                "resolved",
                "refund",
                "payer_error",
                [
                    (None, "open", "2026-05-01"),
                    ("open", "approved", "2026-05-03"),
                    ("approved", "refund_sent", "2026-05-04"),
                    ("refund_sent", "resolved", "2026-05-31"),
                ],
            ),
            (
                "C7",
                "resolved",
                "offset",
                None,
                [
                    (None, "open", "2026-05-05"),
                    ("open", "approved", "2026-05-06"),
                    ("approved", "offset_requested", "2026-05-07"),
                    ("offset_requested", "resolved", "2026-06-04"),
                ],
            ),
            (
                "C8",
                "resolved",
                None,
                "posting_error",
                [
                    (None, "open", "2026-05-20"),
                    ("open", "disputed", "2026-05-25"),
                    ("disputed", "resolved", "2026-06-09"),
                ],
            ),
            (
                "C9",
                "disputed",
                None,
                None,
                [(None, "open", "2026-06-02"), ("open", "disputed", "2026-06-10")],
            ),
            ("C10", "open", None, None, [(None, "open", "2026-06-01")]),
        ]
        for name, state, method, cause, hist in cases:
            case_id = s.execute(
                insert(rc)
                .values(
                    credit_id=ids[name],
                    provider_id=rows[name]["provider_id"],
                    state=state,
                    method=method,
                    root_cause=cause,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                .returning(rc.c.id)
            ).scalar_one()
            for frm, to, day in hist:
                record_transition(
                    s, case_id, frm, to, actor="pytest", reason="kpi data set", at=_at(day)
                )
    return ids
