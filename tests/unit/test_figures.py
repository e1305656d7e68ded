"""Hand-checked figures of real sample files (see tests/fixtures/x12/SOURCES.md).

Every expected number below was computed from the raw bytes with ``tr``/``awk`` (split on the
segment terminator, then on the element separator: count CLP/SVC/SV1/SV2, add CLP04, PLB
amounts, compare CLP03 − ΣCAS with CLP04), never read off our parser's output.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import parsers
from parsers.result import ParseResult
from tests.conftest import FIXTURES

X12 = FIXTURES / "x12"


def _parse(name: str) -> ParseResult:
    return parsers.parse((X12 / name).read_bytes())


def _codes(result: ParseResult) -> Counter[str]:
    return Counter(f.code for f in result.findings)


def test_nevada_medicaid_plb_and_denials() -> None:
    result = _parse("nevada_medicaid.txt")
    remits = result.remittances
    assert len(result.interchanges) == 1
    assert len(remits) == 3
    assert [len(r.claims) for r in remits] == [1, 2, 0]
    assert [r.payment_amount for r in remits] == [Decimal(0), Decimal(0), Decimal("1812.27")]
    assert sum(c.paid for r in remits for c in r.claims) == 0
    assert [c.status_code for r in remits for c in r.claims] == ["4", "2", "4"]
    plb = remits[2].provider_adjustments
    assert len(plb) == 6
    assert [a.reason for a in plb] == ["CT", "CT", "CS", "CS", "CS", "CS"]
    assert sum(a.amount for a in plb) == Decimal("-1812.27")
    # BPR02 = ΣCLP04 − ΣPLB = 0 − (−1812.27): balanced, so no balancing finding.
    assert remits[2].trace_number == "000012382"
    assert sum(len(c.services) for r in remits for c in r.claims) == 0
    # IEA02 100000301 ≠ ISA13 100000300, and the ISA has its padding squeezed out.
    assert _codes(result) == Counter({"interchange_control_mismatch": 1, "isa_not_fixed_width": 1})


def test_medicare_part_a() -> None:
    result = _parse("medicare-part-a.835")
    [remit] = result.remittances
    assert result.findings == []
    assert remit.payment_amount == Decimal("150000.00")
    assert remit.payment_method == "ACH"
    assert len(remit.claims) == 2
    assert sum(c.paid for c in remit.claims) == Decimal("149998.73")
    assert sum(c.charge for c in remit.claims) == Decimal("226366.97")
    assert [c.filing_indicator for c in remit.claims] == ["MA", "MB"]
    [plb] = remit.provider_adjustments
    assert (plb.reason, plb.reference, plb.amount) == ("CV", "CP", Decimal("-1.27"))
    assert remit.payer_id == "999"  # REF*2U wins over N104/TRN03
    assert remit.claims[0].quantities == {"CA": Decimal(8)}
    assert remit.claims[1].outpatient_adjudication == ["", "", "MA02"]


def test_secondary_payment_service_lines() -> None:
    result = _parse("secondary-payment.835")
    [remit] = result.remittances
    assert result.findings == []
    assert remit.payment_amount == Decimal("1222.00")
    assert remit.receiver_id == "030240928"
    assert [len(c.services) for c in remit.claims] == [0, 2]
    assert sum(c.paid for c in remit.claims) == Decimal("1222.00")
    lines = remit.claims[1].services
    # ISA16 declares ':' but the sample writes SVC01 with '>': kept as one opaque component
    assert [s.procedure for s in lines] == ["HC>12345>26", "HC>66543>26"]
    assert [s.paid for s in lines] == [Decimal(30), Decimal(280)]
    assert [(a.group, a.reason, a.amount) for a in lines[1].adjustments] == [
        ("PR", "1", Decimal(150)),
        ("PR", "2", Decimal(70)),
        ("CO", "42", Decimal(85)),
    ]
    assert remit.claims[1].patient_responsibility == Decimal(220)


def test_multi_interchange_835() -> None:
    result = _parse("ExampleFromNth.txt")
    assert len(result.interchanges) == 3
    remits = result.remittances
    assert [len(r.claims) for r in remits] == [19, 23, 14]
    assert [r.payment_amount for r in remits] == [
        Decimal("999.99"),
        Decimal("9999.99"),
        Decimal("482.13"),
    ]
    assert [sum(c.paid for c in r.claims) for r in remits] == [
        Decimal("776.06"),
        Decimal("3111.09"),
        Decimal("3439.89"),
    ]
    assert [sum(len(c.services) for c in r.claims) for r in remits] == [38, 24, 29]
    assert all(not r.provider_adjustments for r in remits)
    # scrambled sample data: awk finds 51 claims and 50 lines where charge − ΣCAS ≠ paid,
    # and no transaction where ΣCLP04 − ΣPLB = BPR02.
    assert _codes(result) == Counter(
        {"claim_out_of_balance": 51, "line_out_of_balance": 50, "transaction_out_of_balance": 3}
    )
    assert all(f.severity == parsers.WARNING for f in result.findings)
    assert result.ok


def test_837p_dependent_patient() -> None:
    result = _parse("demo.example1.837")
    assert result.findings == []
    [sub] = result.claim_submissions
    assert sub.kind == "837P"
    [claim] = sub.claims
    assert claim.patient_control_number == "26463774"
    assert claim.total_charge == Decimal(100)
    assert [ln.charge for ln in claim.lines] == [Decimal(40), Decimal(15), Decimal(35), Decimal(10)]
    assert claim.payer_id == "999996666"
    assert claim.filing_indicator == "CI"
    assert claim.patient is not None
    assert (claim.patient.name, claim.patient.first_name) == ("SMITH", "TED")
    assert claim.subscriber is not None
    assert claim.subscriber.person is not None
    assert claim.subscriber.person.first_name == "JANE"
    assert claim.diagnosis_codes == ["BK:0340", "BF:V7389"]
    assert (claim.facility_code, claim.facility_qualifier, claim.frequency_code) == ("11", "B", "1")


def test_837i_two_claims() -> None:
    result = _parse("two-claims-single-provider.837i")
    assert result.findings == []
    [sub] = result.claim_submissions
    assert sub.kind == "837I"
    assert [c.patient_control_number for c in sub.claims] == ["756048Q", "756049Q"]
    assert [c.total_charge for c in sub.claims] == [Decimal("89.95"), Decimal(50)]
    assert [len(c.lines) for c in sub.claims] == [2, 1]
    assert [ln.revenue_code for c in sub.claims for ln in c.lines] == ["0305", "0730", "0300"]
    assert sum(ln.charge for ln in sub.claims[0].lines) == Decimal("89.95")
    assert sub.claims[0].billing_provider == sub.claims[1].billing_provider
    assert [c.filing_indicator for c in sub.claims] == ["CH", "CH"]
    assert sub.claims[0].diagnosis_codes == ["BK:3669", "BF:4019", "BF:79431"]


def test_different_separators() -> None:
    data = (X12 / "x12_valid_different_separators.txt").read_bytes()
    result = parsers.parse(data)
    [ic] = result.interchanges
    d = ic.interchange.delimiters
    assert (d.element, d.component, d.segment) == ("~", "^", "_")
    [sub] = result.claim_submissions
    assert [c.total_charge for c in sub.claims] == [Decimal(500), Decimal(500)]
    assert [ln.procedure for c in sub.claims for ln in c.lines] == ["HC:99211:25", "HC:478331:25"]
    # SE01 says 25 but ST..SE holds 34 segments; CLM02 500 vs one 12.25 line in each claim.
    assert _codes(result) == Counter({"segment_count_mismatch": 1, "claim_charge_mismatch": 2})
    [mismatch] = [f for f in result.findings if f.code == "segment_count_mismatch"]
    assert mismatch.ack_code == "4"
    assert mismatch.location.segment_number == 36
    assert mismatch.location.line == 36
    assert data.startswith(b"ISA~")
