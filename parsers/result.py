"""Whole-file parse: the event stream assembled into interchanges, groups and transactions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from parsers.errors import ERROR, Finding
from parsers.x12.envelopes import EnvelopeScan
from parsers.x12.lexer import DEFAULT_LIMITS, Limits
from parsers.x12.reader import X12Reader
from schemas.claim import Claim, ClaimSubmission
from schemas.envelope import FunctionalGroup, Interchange
from schemas.remittance import ClaimPayment, ProviderAdjustment, Remittance

#: how often ``parse`` reports claims to ``on_claims``
PROGRESS_EVERY = 500

Transaction = Remittance | ClaimSubmission


@dataclass(slots=True)
class ParsedGroup:
    group: FunctionalGroup
    transactions: list[Transaction] = field(default_factory=list)


@dataclass(slots=True)
class ParsedInterchange:
    interchange: Interchange
    groups: list[ParsedGroup] = field(default_factory=list)


@dataclass(slots=True)
class ParseResult:
    interchanges: list[ParsedInterchange]
    findings: list[Finding]
    segment_count: int
    #: the envelopes the parse read (acknowledgments are built from them); None when unknown
    envelopes: EnvelopeScan | None = None

    @property
    def ok(self) -> bool:
        """No error-level findings (warnings, e.g. balancing, are allowed)."""
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def transactions(self) -> list[Transaction]:
        return [t for ic in self.interchanges for g in ic.groups for t in g.transactions]

    @property
    def remittances(self) -> list[Remittance]:
        return [t for t in self.transactions if isinstance(t, Remittance)]

    @property
    def claim_submissions(self) -> list[ClaimSubmission]:
        return [t for t in self.transactions if isinstance(t, ClaimSubmission)]


def parse(
    data: bytes | BinaryIO,
    limits: Limits = DEFAULT_LIMITS,
    *,
    on_claims: Callable[[int], object] | None = None,
) -> ParseResult:
    """Parse a whole file into its object graph. Raises ``X12Error`` when unreadable.

    ``on_claims`` (progress for big files) hears the claims read so far, every
    ``PROGRESS_EVERY`` claims and once at the end.
    """
    reader = X12Reader(data, limits)
    claims = 0
    interchanges: list[ParsedInterchange] = []
    group: ParsedGroup | None = None
    current: Transaction | None = None
    for event in reader:
        if isinstance(event, ClaimPayment):
            assert isinstance(current, Remittance)
            current.claims.append(event)
            claims += 1
            if on_claims is not None and claims % PROGRESS_EVERY == 0:
                on_claims(claims)
        elif isinstance(event, Claim):
            assert isinstance(current, ClaimSubmission)
            current.claims.append(event)
            claims += 1
            if on_claims is not None and claims % PROGRESS_EVERY == 0:
                on_claims(claims)
        elif isinstance(event, ProviderAdjustment):
            pass  # already collected on the Remittance
        elif isinstance(event, Remittance | ClaimSubmission):
            current = event
            assert group is not None
            group.transactions.append(event)
        elif isinstance(event, Interchange):
            interchanges.append(ParsedInterchange(event))
        elif isinstance(event, FunctionalGroup):
            group = ParsedGroup(event)
            interchanges[-1].groups.append(group)
    if on_claims is not None:
        on_claims(claims)
    return ParseResult(interchanges, reader.findings.items, reader.segment_count, reader.envelopes)


def check(
    data: bytes | BinaryIO,
    limits: Limits = DEFAULT_LIMITS,
    *,
    on_claims: Callable[[int], object] | None = None,
) -> ParseResult:
    """Parse for the findings only: no object graph is kept, so memory stays flat.

    The result has no interchanges; its findings and segment count equal ``parse``'s, which is
    all acknowledgments and validation reports need. Raises ``X12Error`` when unreadable.
    """
    reader = X12Reader(data, limits)
    claims = 0
    for event in reader:
        if isinstance(event, ClaimPayment | Claim):
            claims += 1
            if on_claims is not None and claims % PROGRESS_EVERY == 0:
                on_claims(claims)
    if on_claims is not None:
        on_claims(claims)
    return ParseResult([], reader.findings.items, reader.segment_count, reader.envelopes)
