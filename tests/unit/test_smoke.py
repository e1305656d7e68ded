from decimal import Decimal

import parsers
from tests.conftest import CORPUS


def test_parses_a_real_835() -> None:
    result = parsers.parse((CORPUS / "linuxforhealth-x12" / "medicare-part-a.835").read_bytes())
    assert result.ok
    [remit] = result.remittances
    assert len(remit.claims) == 2
    assert sum(c.paid for c in remit.claims) == Decimal("149998.73")
