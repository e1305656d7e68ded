"""Reconciliation of every bench shape concludes what the per-claim code concluded (issue 17
item 5): the no-charge claims went set-based without changing any credit amount, owner,
cause, status, deadline, wait, variance or link (fixtures: tests/fixtures/reconcile/shapes)."""

from __future__ import annotations

import json

import pytest

from tests.integration import reconcile_shapes as rs


@pytest.mark.parametrize("shape", rs.SHAPES)
def test_shape_results_unchanged(db_url: str, shape: str) -> None:
    """Each of the four runs leaves exactly the stored results the old code left."""
    want = json.loads(rs.fixture(shape).read_text())
    got = rs.results(db_url, shape, int(want["claims"]))
    for stage, (mine, theirs) in enumerate(zip(got, want["stages"], strict=True), 1):
        for name in theirs:
            assert json.loads(json.dumps(mine[name])) == theirs[name], (shape, stage, name)


def test_mixed_fixture_reaches_the_no_charge_rules() -> None:
    """The fixture is not vacuous: it holds waits, pending no-charge credits owed to payers
    and patients, Medicare Parts and government deadlines."""
    stages = json.loads(rs.fixture("mixed").read_text())["stages"]
    assert stages[0]["claim_waits"]
    credits = stages[2]["credits"]
    text = json.dumps(credits)
    for needle in ('"no_posted_charges"', '"patient_overpayment"', '"MCRB01"', '"A"', '"B"'):
        assert needle in text, needle
    assert any(r[7] == 1 for r in credits)  # government
