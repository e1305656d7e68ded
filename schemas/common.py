"""Building blocks shared by the 835 and 837 models."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Reference:
    """A REF segment: qualifier (REF01) and value (REF02)."""

    qualifier: str
    value: str


@dataclass(slots=True)
class Address:
    """N3/N4 address lines."""

    line1: str = ""
    line2: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""


@dataclass(slots=True)
class Entity:
    """A party named by N1 or NM1: payer, payee, billing provider, patient, subscriber.

    ``id_qualifier``/``id`` are N103/N104 (or NM108/NM109): XX = NPI, FI = TIN, MI = member id,
    PI/XV = payer id. Person names sit in ``last_name``/``first_name`` (PHI: never logged).
    """

    entity_code: str
    name: str = ""
    first_name: str = ""
    middle_name: str = ""
    id_qualifier: str = ""
    id: str = ""
    address: Address | None = None
    references: list[Reference] = field(default_factory=list)

    def ref(self, qualifier: str) -> str | None:
        """First REF value with this qualifier."""
        for r in self.references:
            if r.qualifier == qualifier:
                return r.value
        return None
