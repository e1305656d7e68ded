"""PostgreSQL: 4 worker processes share 300+ files; each is processed exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.db.models import FileEvent, InboundFile
from gateway.db.remittance_rows import ClaimPaymentRow
from gateway.intake import accept_bytes
from tests.integration.helpers import Gateway
from tests.integration.x12gen import make_835

N_FILES = 320


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_four_workers_process_each_file_exactly_once(gw: Gateway) -> None:
    for i in range(N_FILES):
        accept_bytes(
            gw.db,
            gw.store,
            make_835(10_000 + i, claims=1, plb=False),
            source="test",
            original_name=f"c{i}.835",
        )
    proc = gw.cli("worker", "--concurrency", "4", "--once", timeout=170)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with gw.db.read() as s:
        states = dict(
            s.execute(select(InboundFile.state, func.count()).group_by(InboundFile.state)).all()
        )
        per_file = s.execute(
            select(FileEvent.file_id, func.count())
            .where(FileEvent.to_state == "processed")
            .group_by(FileEvent.file_id)
        ).all()
        claims = s.execute(
            select(ClaimPaymentRow.file_id, func.count()).group_by(ClaimPaymentRow.file_id)
        ).all()
        owners = s.execute(
            select(func.count(func.distinct(FileEvent.actor))).where(
                FileEvent.to_state == "processing"
            )
        ).scalar_one()
    assert states == {"processed": N_FILES}
    assert len(per_file) == N_FILES
    assert all(n == 1 for _, n in per_file)
    assert len(claims) == N_FILES
    assert all(n == 1 for _, n in claims)
    assert owners >= 2  # the work really was shared
