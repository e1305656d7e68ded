"""Small, valid synthetic 835/837 files for the integration tests (string templates)."""

from __future__ import annotations

import random
from decimal import Decimal


def _isa(sender: str, control: str, receiver: str = "RECEIVER") -> str:
    return (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{receiver:<15}*240115*1200*^*"
        f"00501*{control}*0*P*:"
    )


def make_835(
    control: int,
    *,
    sender: str = "PAYERSENDER",
    claims: int = 3,
    seed: int = 0,
    npi: str = "1234567893",
    plb: bool = True,
) -> bytes:
    """A balanced 835 with ``claims`` claims, two lines each, CAS at both levels and a PLB."""
    rnd = random.Random(seed * 1_000_003 + control)
    icn = f"{control:09d}"
    body: list[str] = []
    total = Decimal(0)
    for i in range(claims):
        lines = []
        claim_charge = claim_paid = Decimal(0)
        for j in range(2):
            charge = Decimal(rnd.randint(5000, 50000)) / 100
            co = Decimal(rnd.randint(0, int(charge * 40))) / 100
            paid = charge - co
            claim_charge += charge
            claim_paid += paid
            lines += [
                f"SVC*HC:9921{j}*{charge}*{paid}**1",
                "DTM*472*20240102",
                f"CAS*CO*45*{co}",
                f"REF*6R*L{i}-{j}",
                f"AMT*B6*{paid}",
            ]
        pr = Decimal(rnd.randint(0, 1000)) / 100
        claim_paid -= pr
        body += [
            f"CLP*PCN{control}-{i}*1*{claim_charge}*{claim_paid}*{pr}*12*PCC{control}{i}*11*1",
            f"CAS*PR*1*{pr}",
            "NM1*QC*1*DOE*JANE****MI*W123",
            "DTM*232*20240101",
            "DTM*233*20240102",
            *lines,
        ]
        total += claim_paid
    plb_amount = Decimal("12.50") if plb else Decimal(0)
    tail = [f"PLB*{npi}*20241231*WO:REF{control}*{plb_amount}"] if plb else []
    payment = total - plb_amount
    st = [
        "ST*835*0001",
        f"BPR*I*{payment}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*"
        f"999988880*DA*98765*20240115",
        f"TRN*1*TRACE{control}*1512345678",
        "DTM*405*20240114",
        "N1*PR*ACME HEALTH PLAN",
        "N3*1 PAYER WAY",
        "N4*CITY*ST*12345",
        "REF*2U*ACME01",
        f"N1*PE*GOOD CLINIC*XX*{npi}",
        "REF*TJ*123456789",
        "LX*1",
        *body,
        *tail,
    ]
    st.append(f"SE*{len(st) + 1}*0001")
    segs = [
        _isa(sender, icn),
        f"GS*HP*{sender}*RECEIVER*20240115*1200*{control}*X*005010X221A1",
        *st,
        f"GE*1*{control}",
        f"IEA*1*{icn}",
    ]
    return ("~\n".join(segs) + "~\n").encode()


def make_837(
    control: int, *, sender: str = "BILLERSENDER", claims: int = 2, npi: str = "1234567893"
) -> bytes:
    """A small 837P: one billing provider, one subscriber, ``claims`` claims of one line."""
    icn = f"{control:09d}"
    body: list[str] = []
    for i in range(claims):
        body += [
            f"CLM*C{control}-{i}*100.00***11:B:1*Y*A*Y*Y",
            "HI*ABK:J069",
            "LX*1",
            "SV1*HC:99213*100.00*UN*1***1",
            "DTP*472*D8*20240110",
        ]
    st = [
        "ST*837*0001*005010X222A1",
        f"BHT*0019*00*B{control}*20240115*1200*CH",
        "NM1*41*2*SUBMITTER*****46*S1",
        "NM1*40*2*ACME HEALTH PLAN*****46*ACME01",
        "HL*1**20*1",
        f"NM1*85*2*GOOD CLINIC*****XX*{npi}",
        "REF*EI*123456789",
        "HL*2*1*22*0",
        "SBR*P*18*******CI",
        "NM1*IL*1*DOE*JOHN****MI*M999",
        "NM1*PR*2*ACME HEALTH PLAN*****PI*ACME01",
        *body,
    ]
    st.append(f"SE*{len(st) + 1}*0001")
    segs = [
        _isa(sender, icn),
        f"GS*HC*{sender}*RECEIVER*20240115*1200*{control}*X*005010X222A1",
        *st,
        f"GE*1*{control}",
        f"IEA*1*{icn}",
    ]
    return ("~\n".join(segs) + "~\n").encode()
