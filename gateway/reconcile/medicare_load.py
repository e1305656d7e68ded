"""Load the claim-kind facts of one chunk of candidate claims (``medicare.MedicareFacts``).

Two set-based queries per chunk over the candidates' 837 claims and their 2320 loops; a third
only for the few claims that a Medicare payer answered and no 837 describes (their CLP08).
"""

# ruff: noqa: S608  -- SQL here is composed only of constant fragments and our own temp-table
# names; every value is a bound parameter.

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gateway.reconcile.medicare import (
    MEDICARE_INDICATORS,
    MEDICARE_PROGRAMMES,
    MedicareFacts,
    PayerLoop,
)
from gateway.reconcile.model import ClaimFacts
from mappings.payers import PayerDirectory

Key = tuple[int, str]


def load(
    s: Session,
    where: str,
    params: Mapping[str, Any],
    facts: dict[Key, ClaimFacts],
    payers: PayerDirectory,
) -> None:
    """Fill ``facts[key].medicare`` for the chunk of ``rc_cand`` that ``where`` selects."""
    claims: dict[Key, list[Any]] = {}
    for r in s.execute(
        text(
            "SELECT c.provider_id AS pid, c.patient_control_number AS pcn, c.id, c.kind, "
            "c.payer_id, c.filing_indicator, c.facility_code FROM rc_cand s JOIN claims c "
            f"ON c.provider_id = s.pid AND c.patient_control_number = s.pcn WHERE {where}"
        ),
        params,
    ):
        claims.setdefault((int(r.pid), str(r.pcn)), []).append(r)
    others: dict[int, list[Any]] = {}
    for r in s.execute(
        text(
            "SELECT o.claim_id, o.payer_id, o.filing_indicator FROM rc_cand s JOIN claims c "
            "ON c.provider_id = s.pid AND c.patient_control_number = s.pcn "
            f"JOIN other_payer_payments o ON o.claim_id = c.id WHERE {where} ORDER BY o.id"
        ),
        params,
    ):
        others.setdefault(int(r.claim_id), []).append(r)
    for key, rows in claims.items():
        f = facts.get(key)
        if f is None:
            continue
        rows.sort(key=lambda r: int(r.id), reverse=True)  # newest claim first
        loops: list[PayerLoop] = []
        for r in rows:
            loops.append(
                PayerLoop(payers.canonical(r.payer_id or ""), r.filing_indicator or "", True)
            )
            loops.extend(
                PayerLoop(payers.canonical(o.payer_id or ""), o.filing_indicator or "", False)
                for o in others.get(int(r.id), ())
            )
        institutional = next((r for r in rows if r.kind == "837I"), None)
        f.medicare = MedicareFacts(
            kind=rows[0].kind or "",
            facility_code=(institutional.facility_code or "") if institutional else "",
            loops=tuple(loops),
        )
    _infer_without_837(s, facts, claims, payers)


def _infer_without_837(
    s: Session, facts: dict[Key, ClaimFacts], claims: Mapping[Key, Any], payers: PayerDirectory
) -> None:
    """Claims that no 837 describes but a Medicare payer answered: the newest CLP08 is their
    type of bill if the 835s show an institutional claim (``medicare.claim_kind``)."""
    ids: dict[int, Key] = {}
    for key, f in facts.items():
        if key in claims:
            continue
        for a in f.adjudications:
            if (
                a.filing_indicator in MEDICARE_INDICATORS
                or payers.rule(a.payer_id).programme in MEDICARE_PROGRAMMES
            ):
                ids[a.key] = key
    if not ids:
        return
    newest: dict[Key, tuple[int, str]] = {}
    keys = sorted(ids)
    for i in range(0, len(keys), 900):
        stmt = text("SELECT id, facility_code FROM claim_payments WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        for r in s.execute(stmt, {"ids": keys[i : i + 900]}):
            key = ids[int(r.id)]
            if r.facility_code and int(r.id) > newest.get(key, (0, ""))[0]:
                newest[key] = (int(r.id), r.facility_code)
    for key, (_, facility) in newest.items():
        facts[key].medicare = MedicareFacts(facility_code=facility)


__all__ = ["load"]
