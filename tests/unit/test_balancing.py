"""SNIP type 3 balancing findings on hand-built files, and their absence when the money adds up.

835: line ``SVC02 − ΣCAS = SVC03``; claim ``CLP03 − Σ(claim + line CAS) = CLP04``; transaction
``ΣCLP04 − ΣPLB = BPR02``. 837: ``CLM02 = Σ line charges``. Balancing problems are warnings: the
remittance is still posted, and the finding says where to look.
"""

from __future__ import annotations

from collections import Counter

import pytest

import parsers
from parsers.errors import Finding

ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240102*1230*^*"
    "00501*000000001*0*P*:"
)


def x12(body: list[str], kind: str = "835") -> bytes:
    """Wrap transaction body segments (between ST and SE) in a complete interchange."""
    if kind == "835":
        gs, st = "GS*HP*S*R*20240102*1230*1*X*005010X221A1", "ST*835*0001"
    else:
        gs, st = "GS*HC*S*R*20240102*1230*1*X*005010X222A1", "ST*837*0001*005010X222A1"
    segs = [ISA, gs, st, *body, f"SE*{len(body) + 2}*0001", "GE*1*1", "IEA*1*000000001"]
    return "".join(s + "~\n" for s in segs).encode()


def findings(data: bytes) -> list[Finding]:
    return parsers.parse(data).findings


def codes(data: bytes) -> Counter[str]:
    return Counter(f.code for f in findings(data))


HEADER = ["TRN*1*12345*1999999999", "N1*PR*PAYER", "N1*PE*PROVIDER*XX*1234567893", "LX*1"]


def remit(bpr02: str, *claims_and_plb: str) -> bytes:
    return x12([f"BPR*I*{bpr02}*C*CHK************20240102", *HEADER, *claims_and_plb])


BALANCED_CLAIM = [
    "CLP*PCN1*1*220*150*20*12*ICN1",  # 220 − (20 + 30 + 20 + 0) = 150
    "CAS*PR*2*20",
    "SVC*HC:99213*120*90",  # 120 − 30 = 90
    "CAS*CO*45*30",
    "SVC*HC:99214*80*60",  # 80 − (20 + 0) = 60
    "CAS*CO*45*20*1*253*0",
    "AMT*B6*60",
]


def test_balanced_remittance_has_no_findings() -> None:
    assert findings(remit("150", *BALANCED_CLAIM)) == []


def test_line_out_of_balance() -> None:
    claim = list(BALANCED_CLAIM)
    claim[3] = "CAS*CO*45*25"  # 120 − 25 ≠ 90 (and the claim is now off by 5 too)
    data = remit("150", *claim)
    found = findings(data)
    assert Counter(f.code for f in found) == Counter(
        {"line_out_of_balance": 1, "claim_out_of_balance": 1}
    )
    line = next(f for f in found if f.code == "line_out_of_balance")
    assert line.severity == parsers.WARNING
    assert line.location.segment_id == "SVC"
    assert line.location.segment_number == 11  # ISA GS ST BPR TRN N1 N1 LX CLP CAS SVC
    assert line.location.byte_offset == data.index(b"SVC*HC:99213")
    assert "90" in line.message


def test_claim_out_of_balance_from_claim_level_cas() -> None:
    claim = list(BALANCED_CLAIM)
    claim[1] = "CAS*PR*2*25"
    found = findings(remit("150", *claim))
    [f] = found
    assert f.code == "claim_out_of_balance"
    assert f.location.segment_id == "CLP"
    assert f.location.segment_number == 9


def test_transaction_out_of_balance() -> None:
    [f] = findings(remit("151", *BALANCED_CLAIM))
    assert f.code == "transaction_out_of_balance"
    assert f.location.segment_id == "SE"
    assert "151" in f.message


@pytest.mark.parametrize(
    ("bpr02", "plb"),
    [
        ("140", "PLB*1234567893*20241231*WO:ICN0*10"),  # recoupment lowers the payment
        ("155", "PLB*1234567893*20241231*L6*-5"),  # interest raises it
        ("150", "PLB*1234567893*20241231*72:REF1*-10*WO:ICN0*10"),  # refund offset by WO
    ],
    ids=["wo", "interest", "refund-offset"],
)
def test_plb_enters_transaction_balance(bpr02: str, plb: str) -> None:
    assert findings(remit(bpr02, *BALANCED_CLAIM, plb)) == []
    [f] = findings(remit("150.01", *BALANCED_CLAIM, plb))
    assert f.code == "transaction_out_of_balance"


def test_reversal_and_correction_balance() -> None:
    data = remit(
        "30",
        "CLP*PCN1*22*-200*-150*-20*12*ICN1",
        "CAS*PR*2*-20",
        "CAS*CO*45*-30",
        "CLP*PCN1*1*200*180*20*12*ICN2",
        "CAS*PR*2*20",
    )
    assert findings(data) == []
    result = parsers.parse(data)
    assert [c.is_reversal for c in result.remittances[0].claims] == [True, False]


def test_claim_without_lines_balances_on_claim_cas() -> None:
    assert findings(remit("100", "CLP*PCN1*1*130*100**12*ICN1", "CAS*CO*45*30")) == []
    assert codes(remit("100", "CLP*PCN1*1*130*100**12*ICN1", "CAS*CO*45*29")) == Counter(
        {"claim_out_of_balance": 1}
    )


def test_zero_payment_denial_balances() -> None:
    data = remit("0", "CLP*PCN1*4*75*0**MC*ICN1", "CAS*CO*29*75")
    assert findings(data) == []


def test_several_imbalances_are_all_reported() -> None:
    data = remit(
        "1",
        "CLP*A*1*10*5**12*I1",
        "CAS*CO*45*4",
        "CLP*B*1*10*5**12*I2",
        "CAS*CO*45*6",
        "CLP*C*1*10*5**12*I3",
        "CAS*CO*45*5",
    )
    assert codes(data) == Counter({"claim_out_of_balance": 2, "transaction_out_of_balance": 1})
    found = [f for f in findings(data) if f.code == "claim_out_of_balance"]
    assert [f.location.segment_number for f in found] == [9, 11]


P837_HEADER = [
    "BHT*0019*00*REF1*20240102*1230*CH",
    "NM1*41*2*SUBMITTER*****46*S1",
    "NM1*40*2*RECEIVER*****46*R1",
    "HL*1**20*1",
    "NM1*85*2*CLINIC*****XX*1234567893",
    "HL*2*1*22*0",
    "SBR*P*18*******CI",
    "NM1*IL*1*DOE*JANE****MI*M1",
    "NM1*PR*2*PAYER*****PI*P1",
]


def claim837(total: str, *charges: str) -> list[str]:
    segs = [f"CLM*PCN1*{total}***11:B:1*Y*A*Y*Y"]
    for i, charge in enumerate(charges, start=1):
        segs += [f"LX*{i}", f"SV1*HC:99213*{charge}*UN*1***1", "DTP*472*D8*20240101"]
    return segs


def test_837_claim_equal_to_its_lines() -> None:
    assert findings(x12([*P837_HEADER, *claim837("100.50", "60", "40.5")], "837")) == []


def test_837_claim_charge_mismatch() -> None:
    data = x12([*P837_HEADER, *claim837("100", "60", "40.5")], "837")
    [f] = findings(data)
    assert f.code == "claim_charge_mismatch"
    assert f.severity == parsers.WARNING
    assert f.location.segment_id == "CLM"
    assert f.location.element == 2
    assert f.location.segment_number == 13  # ISA GS ST BHT NM1 NM1 HL NM1 HL SBR NM1 NM1
    assert f.location.byte_offset == data.index(b"CLM*")
    assert "100.5" in f.message


def test_837_claim_without_lines_is_not_checked() -> None:
    assert findings(x12([*P837_HEADER, "CLM*PCN1*100***11:B:1*Y*A*Y*Y"], "837")) == []


def test_837_each_claim_checked_separately() -> None:
    body = [
        *P837_HEADER,
        *claim837("10", "10"),
        *claim837("20", "5", "5"),
        *claim837("7", "3", "4"),
    ]
    data = x12(body, "837")
    found = findings(data)
    assert [f.code for f in found] == ["claim_charge_mismatch"]
    [claims] = [s.claims for s in parsers.parse(data).claim_submissions]
    assert [c.total_charge for c in claims] == [10, 20, 7]
