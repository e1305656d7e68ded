"""Segments as element lists, each element checked against the interchange's delimiters as it
is rendered; the X12 value formats; and the segments both 835 and 837 write (NM1, N3/N4, CAS)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from schemas.common import Entity
from schemas.envelope import Delimiters
from schemas.remittance import Adjustment

_MAX_CAS_TRIPLETS = 6
#: one element: a plain value, or a composite given as its components
Element = str | Sequence[str]


class X12WriteError(ValueError):
    """The models cannot be written as valid X12 (a value holds a delimiter, a bad envelope)."""


def format_amount(value: Decimal) -> str:
    """A Decimal in X12 R form: optional minus, digits, optional point; no exponent."""
    if not value.is_finite():
        raise X12WriteError(f"amount {value} is not a finite number")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "", "-"):
        text = "0"
    return text


def opt_amount(value: Decimal | None) -> str:
    return "" if value is None else format_amount(value)


def d8(value: dt.date | None) -> str:
    if value is None:
        return ""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def components(text: str) -> list[str]:
    """Our models keep composites with ':' between components, whatever the file used."""
    return text.split(":")


@dataclass(slots=True)
class Segments:
    """Segments of one transaction set as element lists, checked and rendered together."""

    d: Delimiters
    items: list[list[Element]] = field(default_factory=list)

    def add(self, tag: str, *elements: Element) -> int:
        els: list[Element] = [tag, *elements]
        while len(els) > 1 and _is_empty(els[-1]):
            els.pop()
        self.items.append(els)
        return len(self.items) - 1

    def render(self) -> list[str]:
        return [render_segment(els, self.d) for els in self.items]


def _is_empty(el: Element) -> bool:
    if isinstance(el, str):
        return el == ""
    return all(c == "" for c in el)


def render_segment(els: list[Element], d: Delimiters) -> str:
    tag = els[0]
    assert isinstance(tag, str)
    forbidden = {d.element, d.component, d.segment, "\r", "\n"}
    if d.repetition:
        forbidden.add(d.repetition)
    out = [tag]
    for i, el in enumerate(els[1:], start=1):
        parts = [el] if isinstance(el, str) else list(el)
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
        for part in parts:
            if any(ch in part for ch in forbidden):
                raise X12WriteError(
                    f"{tag}{i:02d} holds a delimiter or line break of this interchange; "
                    "choose other delimiters or clean the value"
                )
        out.append(d.component.join(parts))
    return d.element.join(out)


def add_address(st: Segments, e: Entity) -> None:
    a = e.address
    if a is None:
        return
    if a.line1 or a.line2:
        st.add("N3", a.line1, a.line2)
    if a.city or a.state or a.postal_code:
        st.add("N4", a.city, a.state, a.postal_code)


def add_cas(st: Segments, adjustments: Sequence[Adjustment]) -> None:
    """CAS segments: consecutive adjustments of one group share a segment, six at most."""
    i = 0
    while i < len(adjustments):
        group = adjustments[i].group
        triplets: list[Element] = []
        while (
            i < len(adjustments)
            and adjustments[i].group == group
            and len(triplets) < 3 * _MAX_CAS_TRIPLETS
        ):
            a = adjustments[i]
            triplets += [a.reason, format_amount(a.amount), opt_amount(a.quantity)]
            i += 1
        st.add("CAS", group, *triplets)


def add_nm1(st: Segments, e: Entity) -> None:
    kind = "1" if e.first_name or e.middle_name else "2"
    st.add(
        "NM1",
        e.entity_code,
        kind,
        e.name,
        e.first_name,
        e.middle_name,
        "",
        "",
        e.id_qualifier,
        e.id,
    )


__all__ = [
    "Element",
    "Segments",
    "X12WriteError",
    "add_address",
    "add_cas",
    "add_nm1",
    "components",
    "d8",
    "format_amount",
    "opt_amount",
    "render_segment",
]
