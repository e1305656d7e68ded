"""Beneficiary names for the CMS-838, read from the raw files when the report is made.

The database never stores patient names (docs/security.md: PHI kept to what reconciliation
needs), but column 1 of the CMS-838 detail is the beneficiary's name. So the report reads it
from the raw files the claim came in: the newest 835 that paid it (its corrected name,
NM1*74, over NM1*QC), else the 837 that billed it (the patient, or the subscriber when the
patient is the subscriber). The name goes into the report files only, as last name and first
initial, which with the MBI identifies the beneficiary; never into logs or the API's JSON.

A raw file that is pruned, unreachable or no longer parses leaves the name blank; the report
says how many names it could not find (``missing``), never why in PHI terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

import parsers
from gateway.errors import GatewayError
from gateway.logging import get_logger
from gateway.store.base import RawStore
from parsers.x12.lexer import Limits
from schemas.claim import Claim
from schemas.common import Entity
from schemas.remittance import ClaimPayment

log = get_logger("gateway.resolve")

#: (file sha256, the PCN as that file spells it, the credit's PCN), newest file first
_REMITTED = text(
    "SELECT f.sha256, cp.patient_control_number AS raw_pcn, "
    "COALESCE(l.patient_control_number, cp.patient_control_number) AS pcn "
    "FROM claim_payments cp JOIN inbound_files f ON f.id = cp.file_id "
    "LEFT JOIN claim_links l ON l.claim_payment_id = cp.id "
    "WHERE cp.provider_id = :p AND COALESCE(l.patient_control_number, "
    "cp.patient_control_number) IN :pcns ORDER BY cp.id DESC"
).bindparams(bindparam("pcns", expanding=True))
_BILLED = text(
    "SELECT f.sha256, c.patient_control_number AS raw_pcn, c.patient_control_number AS pcn "
    "FROM claims c JOIN inbound_files f ON f.id = c.file_id "
    "WHERE c.provider_id = :p AND c.patient_control_number IN :pcns ORDER BY c.id DESC"
).bindparams(bindparam("pcns", expanding=True))


def short_name(person: Entity | None) -> str:
    """'LAST, F' (the CMS-838's beneficiary name); '' when the segment names nobody."""
    if person is None or not person.name.strip():
        return ""
    first = person.first_name.strip()
    return f"{person.name.strip()}, {first[0]}" if first else person.name.strip()


def _payment_name(event: ClaimPayment) -> str:
    return short_name(event.corrected_patient) or short_name(event.patient)


def _claim_name(event: Claim) -> str:
    name = short_name(event.patient)
    if not name and event.subscriber is not None:
        name = short_name(event.subscriber.person)
    return name


@dataclass
class BeneficiaryNames:
    """Names by PCN for one provider; ``missing`` counts PCNs no raw file could name."""

    names: dict[str, str] = field(default_factory=dict)
    missing: int = 0

    def get(self, pcn: str) -> str:
        return self.names.get(pcn, "")


def beneficiary_names(
    s: Session, store: RawStore, provider_id: int, pcns: Iterable[str], limits: Limits
) -> BeneficiaryNames:
    """Read each raw file at most once, newest first, until every PCN has a name.

    ``limits`` are the ones the worker parsed these files under (``x12_limits(settings)``,
    passed in by the caller that holds the settings)."""
    wanted = set(pcns)
    out = BeneficiaryNames()
    if not wanted:
        return out
    read: set[str] = set()
    for query in (_REMITTED, _BILLED):
        by_file: dict[str, dict[str, str]] = {}
        for r in s.execute(query, {"p": provider_id, "pcns": sorted(wanted)}):
            by_file.setdefault(r.sha256, {})[r.raw_pcn] = r.pcn
        for sha, raw_pcns in by_file.items():
            todo = {raw: pcn for raw, pcn in raw_pcns.items() if pcn not in out.names}
            if not todo or sha in read:
                continue
            read.add(sha)
            for pcn, name in _names_in(store, sha, todo, limits).items():
                out.names.setdefault(pcn, name)
        if wanted <= out.names.keys():
            break
    out.missing = len(wanted - out.names.keys())
    return out


def _names_in(store: RawStore, sha: str, todo: dict[str, str], limits: Limits) -> dict[str, str]:
    """credit PCN → name, for the claims of one raw file that ``todo`` asks about."""
    found: dict[str, str] = {}
    try:
        with store.open(sha) as stream:  # streamed: a payer file may be of any size
            for event in parsers.stream(stream, limits):
                if isinstance(event, ClaimPayment | Claim) and event.patient_control_number in todo:
                    name = (
                        _payment_name(event)
                        if isinstance(event, ClaimPayment)
                        else _claim_name(event)
                    )
                    if name:
                        found.setdefault(todo[event.patient_control_number], name)
    except (GatewayError, parsers.X12Error) as exc:  # pruned, unreachable, damaged: blank
        log.warning("cms838_names_unreadable", sha256=sha[:12], error=type(exc).__name__)
    return found


__all__ = ["BeneficiaryNames", "beneficiary_names", "short_name"]
