"""Who a document is about, read from the raw files when the document is written.

The database keeps no patient names or addresses (docs/security.md), but a refund letter names
the patient and a patient refund check needs a payee and a mailing address. As with the
CMS-838's names (gateway.resolve.beneficiary_names), they are read from the raw files the claim
came in at the moment the document is made: the 837 that billed the claim (its patient loop
2010CA, or the subscriber 2010BA when the patient is the subscriber; the member id is NM1*IL09),
then the newest 835 that paid it (NM1*74 corrected name over NM1*QC). They go into the
document's bytes only: never into logs, the API's JSON or the database. A raw file that is
pruned or no longer parses leaves the fields blank (``missing`` counts the claims), and the
logs say only which file (by digest prefix) could not be read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

import parsers
from gateway.errors import GatewayError
from gateway.logging import get_logger
from gateway.resolve.beneficiary_names import _BILLED, _REMITTED
from gateway.store.base import RawStore
from parsers.x12.lexer import Limits
from schemas.claim import Claim
from schemas.common import Entity
from schemas.remittance import ClaimPayment

log = get_logger("gateway.resolve")


@dataclass(frozen=True, slots=True)
class Party:
    """The patient (or subscriber) of one claim, as its raw files name them (PHI)."""

    name: str = ""
    member_id: str = ""
    #: N3 lines, then N4 city, state and postal code
    street: tuple[str, ...] = ()
    city: str = ""
    state: str = ""
    postal_code: str = ""

    @property
    def address(self) -> tuple[str, ...]:
        """The mailing address as letter lines."""
        last = f"{self.city}, {self.state} {self.postal_code}".strip(", ")
        return (*self.street, *((last,) if last else ()))


def full_name(person: Entity | None) -> str:
    """'FIRST M LAST' as the segment spells it; '' when it names nobody."""
    if person is None:
        return ""
    parts = (person.first_name, person.middle_name, person.name)
    return " ".join(p.strip() for p in parts if p.strip())


def _with_address(party: Party, *people: Entity | None) -> Party:
    """``party`` with the first N3/N4 address among ``people``."""
    for person in people:
        a = person.address if person is not None else None
        if a is not None and (a.line1.strip() or a.city.strip()):
            street = tuple(x.strip() for x in (a.line1, a.line2) if x.strip())
            return Party(
                party.name,
                party.member_id,
                street,
                a.city.strip(),
                a.state.strip(),
                a.postal_code.strip(),
            )
    return party


def _from_claim(c: Claim) -> Party:
    sub = c.subscriber.person if c.subscriber is not None else None
    person = c.patient if c.patient is not None and full_name(c.patient) else sub
    member = sub.id if sub is not None else ""
    return _with_address(Party(full_name(person), member), person, sub)


def _from_payment(p: ClaimPayment) -> Party:
    person = p.corrected_patient if full_name(p.corrected_patient) else p.patient
    member = p.patient.id if p.patient is not None else ""
    return Party(full_name(person), member)


def _merge(first: Party | None, then: Party) -> Party:
    """Fill what ``first`` lacks from ``then`` (the 837 is the better source of each field)."""
    if first is None:
        return then
    where = first if first.street or first.city else then
    return Party(
        first.name or then.name,
        first.member_id or then.member_id,
        where.street,
        where.city,
        where.state,
        where.postal_code,
    )


@dataclass
class Parties:
    """Parties by PCN for one provider; ``missing`` counts PCNs no raw file could name."""

    found: dict[str, Party] = field(default_factory=dict)
    missing: int = 0

    def get(self, pcn: str) -> Party:
        return self.found.get(pcn, Party())


def parties(
    s: Session, store: RawStore | None, provider_id: int, pcns: Iterable[str], limits: Limits
) -> Parties:
    """Each claim's party from its 837s (newest first), completed from its 835s; each raw
    file is read at most once. Without a store every field is blank."""
    wanted = sorted(set(pcns))
    out = Parties()
    if not wanted or store is None:
        out.missing = len(wanted)
        return out
    for query in (_BILLED, _REMITTED):
        by_file: dict[str, dict[str, str]] = {}
        for r in s.execute(query, {"p": provider_id, "pcns": wanted}):
            by_file.setdefault(r.sha256, {})[r.raw_pcn] = r.pcn
        for sha, todo in by_file.items():
            for pcn, party in _read(store, sha, todo, limits).items():
                out.found[pcn] = _merge(out.found.get(pcn), party)
    out.missing = sum(1 for p in wanted if not out.get(p).name)
    return out


def _read(store: RawStore, sha: str, todo: dict[str, str], limits: Limits) -> dict[str, Party]:
    found: dict[str, Party] = {}
    try:
        for event in parsers.stream(store.read(sha), limits):
            if isinstance(event, Claim) and event.patient_control_number in todo:
                party = _from_claim(event)
            elif isinstance(event, ClaimPayment) and event.patient_control_number in todo:
                party = _from_payment(event)
            else:
                continue
            pcn = todo[event.patient_control_number]
            found[pcn] = _merge(found.get(pcn), party)
    except (GatewayError, parsers.X12Error) as exc:  # pruned, unreachable, damaged: blank
        log.warning("document_parties_unreadable", sha256=sha[:12], error=type(exc).__name__)
    return found


__all__ = ["Parties", "Party", "full_name", "parties"]
