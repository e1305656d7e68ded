"""The KPI reports on the hand-built data set of ``tests/integration/kpi_data.py`` (read its
table first), SQLite and PostgreSQL; every expected figure is worked by hand in the docstring."""

from __future__ import annotations

from decimal import Decimal

from gateway.reporting import kpi, trend
from tests.integration.helpers import Gateway, ingest
from tests.integration.kpi_data import AS_OF, build, june_835

D = Decimal


def _pairs(buckets: list) -> list[tuple[str, int, Decimal]]:  # type: ignore[type-arg]
    return [(b.key, b.count, b.amount) for b in buckets]


def test_inventory(gw: Gateway) -> None:
    """Active on 2026-06-30 (P1): C1, C2, C3, C4, C9 (C5 resolved by reconcile; C6, C7, C8 cases
    resolved; C10 is P2's). Total 5 credits, 100.00 + 250.50 + 40.25 + 20.00 + 12.00 = 422.75.

    Ages: C1 06-20 → 10 days, C9 06-02 → 28 (0-30: 2, 112.00); C3 05-10 → 21 + 30 = 51 (31-60:
    40.25); C2 04-15 → 15 + 31 + 30 = 76 (61-90: 250.50); none 91-180; C4 2025-12-01 → 31 + 31
    + 28 + 31 + 30 + 31 + 29 = 211 (180+: 20.00).
    Payer: MCR C1 + C2 = 350.50 (2); ACME01 C3 + C9 = 52.25 (2); patient C4 20.00.
    Cause: duplicate_payment C2 250.50; overpayment C1 + C3 + C9 = 152.25 (3); patient 20.00.
    Root cause: unassigned C2 + C4 + C9 = 282.50 (3); registration_error C1 100.00; payer_error
    C3 40.25. Government C1 + C2 = 350.50 (2), other 72.25 (3).
    """
    ids = build(gw)
    with gw.db.read() as s:
        rep = kpi.inventory(s, as_of=AS_OF, provider_id=ids["P1"])
        everyone = kpi.inventory(s, as_of=AS_OF)
    assert (rep.total_count, rep.total_amount) == (5, D("422.75"))
    assert _pairs(rep.by_age) == [
        ("0-30", 2, D("112.00")),
        ("31-60", 1, D("40.25")),
        ("61-90", 1, D("250.50")),
        ("91-180", 0, D("0.00")),
        ("180+", 1, D("20.00")),
    ]
    assert _pairs(rep.by_payer) == [
        ("MCR", 2, D("350.50")),
        ("ACME01", 2, D("52.25")),
        ("patient", 1, D("20.00")),
    ]
    assert _pairs(rep.by_cause) == [
        ("duplicate_payment", 1, D("250.50")),
        ("overpayment", 3, D("152.25")),
        ("patient_overpayment", 1, D("20.00")),
    ]
    assert _pairs(rep.by_root_cause) == [
        ("unassigned", 3, D("282.50")),
        ("registration_error", 1, D("100.00")),
        ("payer_error", 1, D("40.25")),
    ]
    assert _pairs(rep.by_government) == [("government", 2, D("350.50")), ("other", 3, D("72.25"))]
    # unscoped (ops): P2's C10 too
    assert (everyone.total_count, everyone.total_amount) == (6, D("1422.74"))


def test_deadlines(gw: Gateway) -> None:
    """Government and active: C1 (due 07-05: 5 days left, within 14 → near) and C2 (due 06-14:
    16 days past). C7 is due 07-04 but resolved (offset), so not listed. Past 1 / 250.50, near
    1 / 100.00, soonest first: C2, C1. With near_days 4, C1 (5 days) is no longer near."""
    ids = build(gw)
    with gw.db.read() as s:
        rep = kpi.deadlines(s, as_of=AS_OF, provider_id=ids["P1"])
        short = kpi.deadlines(s, as_of=AS_OF, near_days=4, provider_id=ids["P1"])
    assert (rep.past_count, rep.past_amount, rep.near_count, rep.near_amount) == (
        1,
        D("250.50"),
        1,
        D("100.00"),
    )
    assert [(r.credit_id, r.status, r.days_left) for r in rep.rows] == [
        (ids["C2"], "past", -16),
        (ids["C1"], "near", 5),
    ]
    assert not rep.truncated
    assert [r.credit_id for r in short.rows] == [ids["C2"]]
    assert short.near_count == 0


def test_recovery(gw: Gateway) -> None:
    """Window April-June 2026.
    Identified: April C2 250.50 + C5 60.00 = 310.50; May C3 40.25 + C6 75.00 + C7 30.00 + C8
    45.00 = 190.25; June C1 100.00 + C9 12.00 = 112.00 (C4, December, is outside).
    Resolved: C5 04-21 recouped (PLB) 60.00; C6 05-31 refunded 75.00 (refund case); C7 06-04
    offset 30.00; C8 06-09 won 45.00 (resolved from disputed).
    Disputed (first dispute day): C8 05-25 45.00; C9 06-10 12.00.
    Totals: identified 612.75, refunded 75.00, offset 30.00, recouped 60.00, disputed 57.00,
    won 45.00, closed otherwise 0.00."""
    ids = build(gw)
    with gw.db.read() as s:
        rep = kpi.recovery(s, as_of=AS_OF, months=3, provider_id=ids["P1"])
    got = [
        (m.month, m.identified, m.refunded, m.offset, m.recouped, m.disputed, m.won)
        for m in rep.months
    ]
    z = D("0.00")
    assert got == [
        ("2026-04", D("310.50"), z, z, D("60.00"), z, z),
        ("2026-05", D("190.25"), D("75.00"), z, z, D("45.00"), z),
        ("2026-06", D("112.00"), z, D("30.00"), z, D("12.00"), D("45.00")),
    ]
    t = rep.total
    assert (t.identified, t.refunded, t.offset, t.recouped, t.disputed, t.won, t.closed_other) == (
        D("612.75"),
        D("75.00"),
        D("30.00"),
        D("60.00"),
        D("57.00"),
        D("45.00"),
        z,
    )


def test_days_to_resolve(gw: Gateway) -> None:
    """Days identified → resolved: C5 04-01 → 04-21 = 20; C6 05-01 → 05-31 = 30; C7 05-05 →
    06-04 = 26 + 4 = 30; C8 05-20 → 06-09 = 11 + 9 = 20.
    Nearest rank (rank = ceil(p × n)): all [20, 20, 30, 30]: median rank 2 → 20, p90 rank 4 → 30.
    overpayment [20, 20, 30] (C5, C8, C7): rank 2 → 20, rank ceil(2.7) = 3 → 30;
    duplicate_payment [30]. ACME01 [20, 20, 30] (C5, C8, C6) → 20 / 30; MCR [30] (C7).
    Months of resolution: April [20]; May [30]; June [20, 30]: rank 1 → 20, rank 2 → 30."""
    ids = build(gw)
    with gw.db.read() as s:
        rep = kpi.days_to_resolve(s, as_of=AS_OF, months=3, provider_id=ids["P1"])

    def t(stats: list) -> list[tuple[str, int, int | None, int | None]]:  # type: ignore[type-arg]
        return [(x.key, x.count, x.median_days, x.p90_days) for x in stats]

    assert t([rep.overall]) == [("all", 4, 20, 30)]
    assert t(rep.by_cause) == [("duplicate_payment", 1, 30, 30), ("overpayment", 3, 20, 30)]
    assert t(rep.by_payer) == [("ACME01", 3, 20, 30), ("MCR", 1, 30, 30)]
    assert t(rep.by_month) == [
        ("2026-04", 1, 20, 20),
        ("2026-05", 1, 30, 30),
        ("2026-06", 2, 20, 30),
    ]


def test_rates(gw: Gateway) -> None:
    """ACME01 claims (835 payment dates): May R1 80.00 + R2 150.00 + R3 270.00 = 3 claims,
    500.00; June R4 1000.00 and R1's reversal (-80.00, not a claim) = 1 claim, 920.00.
    ACME01 credits: April C5 60.00 (no claims: no rate); May C3 40.25 + C6 75.00 + C8 45.00 =
    3, 160.25 → 3 / 3 × 1000 = 1000.00 per 1,000 claims, 160.25 / 500.00 × 1000 = 320.50 per
    $1,000; June C9 12.00 → 1 / 1 × 1000 = 1000.00, 12.00 / 920.00 × 1000 = 13.043 → 13.04.
    Window: 4 claims, 1420.00 paid, 5 credits, 232.25 → 1250.00 and 163.556 → 163.56.
    MCR has credits (C2 April, C7 May, C1 June: 380.50) but no 835 here: no rates."""
    ids = build(gw)
    with gw.db.read() as s:
        rep = trend.rates(s, as_of=AS_OF, months=3, provider_id=ids["P1"])
    acme = {r.month: r for r in rep.rows if r.payer_id == "ACME01"}
    assert (acme["2026-04"].claims, acme["2026-04"].credits_per_1000_claims) == (0, None)
    may, june = acme["2026-05"], acme["2026-06"]
    assert (may.claims, may.paid, may.credits, may.credit_amount) == (
        3,
        D("500.00"),
        3,
        D("160.25"),
    )
    assert (may.credits_per_1000_claims, may.credit_dollars_per_1000_paid) == (
        D("1000.00"),
        D("320.50"),
    )
    assert (
        june.claims,
        june.paid,
        june.credits_per_1000_claims,
        june.credit_dollars_per_1000_paid,
    ) == (
        1,
        D("920.00"),
        D("1000.00"),
        D("13.04"),
    )
    whole = {r.payer_id: r for r in rep.by_payer}
    a = whole["ACME01"]
    assert (a.claims, a.paid, a.credits, a.credit_amount) == (4, D("1420.00"), 5, D("232.25"))
    assert (a.credits_per_1000_claims, a.credit_dollars_per_1000_paid) == (
        D("1250.00"),
        D("163.56"),
    )
    m = whole["MCR"]
    assert (m.claims, m.credits, m.credit_amount, m.credits_per_1000_claims) == (
        0,
        3,
        D("380.50"),
        None,
    )


def test_rates_count_a_resent_era_once(gw: Gateway) -> None:
    """The clearinghouse re-sends June's ERA (same TRN, new ISA control number): it is loaded
    (its rows marked as resend twins) but the payer paid once, so June stays 1 claim and
    920.00 paid, 1000.00 credits per 1,000 claims and 13.04 per $1,000 (as in test_rates);
    counting the copy would halve both rates (2 claims, 1840.00)."""
    ids = build(gw)
    resent = june_835().replace(b"000009102", b"000009199")
    assert ingest(gw, resent, "kpi-b-resent.835").state == "processed"
    with gw.db.read() as s:
        rep = trend.rates(s, as_of=AS_OF, months=3, provider_id=ids["P1"])
    june = next(r for r in rep.rows if (r.payer_id, r.month) == ("ACME01", "2026-06"))
    assert (june.claims, june.paid) == (1, D("920.00"))
    assert (june.credits_per_1000_claims, june.credit_dollars_per_1000_paid) == (
        D("1000.00"),
        D("13.04"),
    )


def test_root_cause_trend(gw: Gateway) -> None:
    """Identified per month and root cause: April unassigned C2 + C5 = 2, 310.50; May
    payer_error C3 + C6 = 2, 115.25, posting_error C8 45.00, unassigned C7 30.00; June
    registration_error C1 100.00, unassigned C9 12.00.
    Growing (May → June dollars): registration_error 0.00 → 100.00 (+100.00) only (unassigned
    30.00 → 12.00 fell; payer_error and posting_error fell to 0).
    Repeat offenders, credits in 2+ of the 3 months: cause overpayment (April C5; May C3, C7,
    C8; June C1, C9: 3 months, 6, 287.25), duplicate_payment (C2 April, C6 May: 2, 325.50);
    payer MCR (C2, C7, C1: 3 months, 380.50), ACME01 (C5; C3, C6, C8; C9: 3 months, 5, 232.25);
    root cause unassigned (C2, C5; C7; C9: 3 months, 4, 352.50). patient (C4) is December.
    Departments (kpi_data's ledger): April C2 Radiology (300.00 against Emergency's 100.00),
    C5 Laboratory (Emergency's 400.00 is reversed); May C3 "rev 045x Emergency room" (no
    department named: 0450 carries 300.00 of 400.00), C6 Emergency, C8 Radiology (a named
    department wins over the unnamed 900.00), C7 none (its only row is a payment); June C1
    Emergency (500.00 against 200.00), C9 Emergency. In 2+ months: Radiology (April, May: 2,
    250.50 + 45.00 = 295.50) and Emergency (May, June: 3, 75.00 + 100.00 + 12.00 = 187.00)."""
    ids = build(gw)
    with gw.db.read() as s:
        rep = trend.root_cause_trend(s, as_of=AS_OF, months=3, min_months=2, provider_id=ids["P1"])
    assert rep.months == ["2026-04", "2026-05", "2026-06"]
    assert [(c.month, c.root_cause, c.count, c.amount) for c in rep.cells] == [
        ("2026-04", "unassigned", 2, D("310.50")),
        ("2026-05", "payer_error", 2, D("115.25")),
        ("2026-05", "posting_error", 1, D("45.00")),
        ("2026-05", "unassigned", 1, D("30.00")),
        ("2026-06", "registration_error", 1, D("100.00")),
        ("2026-06", "unassigned", 1, D("12.00")),
    ]
    assert [
        (g.root_cause, g.previous_amount, g.current_amount, g.change_amount) for g in rep.growing
    ] == [("registration_error", D("0.00"), D("100.00"), D("100.00"))]
    assert [
        (o.dimension, o.key, o.months_with_credits, o.count, o.amount) for o in rep.offenders
    ] == [
        ("cause", "overpayment", 3, 6, D("287.25")),
        ("cause", "duplicate_payment", 2, 2, D("325.50")),
        ("department", "Radiology", 2, 2, D("295.50")),
        ("department", "Emergency", 2, 3, D("187.00")),
        ("payer", "MCR", 3, 3, D("380.50")),
        ("payer", "ACME01", 3, 5, D("232.25")),
        ("root_cause", "unassigned", 3, 4, D("352.50")),
    ]


def test_departments_of_one_month(gw: Gateway) -> None:
    """With ``min_months`` 1 every department of the window shows (test_root_cause_trend works
    them out): Laboratory C5 60.00 and the revenue-code category of C3 40.25 too. C7, whose
    claim has no charge, is in no department; another provider's ledger is never read."""
    ids = build(gw)
    with gw.db.read() as s:
        rep = trend.root_cause_trend(s, as_of=AS_OF, months=3, min_months=1, provider_id=ids["P1"])
        other = trend.root_cause_trend(
            s, as_of=AS_OF, months=3, min_months=1, provider_id=ids["P2"]
        )
    assert [
        (o.key, o.months_with_credits, o.count, o.amount)
        for o in rep.offenders
        if o.dimension == "department"
    ] == [
        ("Radiology", 2, 2, D("295.50")),
        ("Emergency", 2, 3, D("187.00")),
        ("Laboratory", 1, 1, D("60.00")),
        ("rev 045x Emergency room", 1, 1, D("40.25")),
    ]
    assert [o for o in other.offenders if o.dimension == "department"] == []
