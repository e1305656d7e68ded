"""Per-transaction parsing context: where we are, and the findings sink."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from parsers.errors import ERROR, WARNING, Finding, Location
from schemas.envelope import Delimiters, TransactionHeader


@dataclass(slots=True)
class Findings:
    """Collects findings for a whole parse; capped so a pathological file stays bounded."""

    items: list[Finding] = field(default_factory=list)
    limit: int = 10_000
    dropped: int = 0
    #: hears each kept finding as it is added (a stream reader locates it while it can)
    on_add: Callable[[Finding], None] | None = None

    def add(self, finding: Finding) -> None:
        if len(self.items) < self.limit:
            self.items.append(finding)
            if self.on_add is not None:
                self.on_add(finding)
        else:
            self.dropped += 1

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.severity == ERROR]


@dataclass(slots=True)
class TxContext:
    """What a transaction parser needs to know about its envelope."""

    delimiters: Delimiters
    header: TransactionHeader
    findings: Findings
    #: file-level segment number of the ST segment
    st_number: int

    def location(self, tx_seg: int, seg_id: str, element: int | None = None) -> Location:
        h = self.header
        return Location(
            segment_number=self.st_number + tx_seg - 1,
            segment_id=seg_id,
            element=element,
            transaction_segment_number=tx_seg,
            interchange_control_number=h.interchange_control_number,
            group_control_number=h.group_control_number,
            transaction_control_number=h.control_number,
        )

    def error(
        self,
        code: str,
        message: str,
        tx_seg: int,
        seg_id: str,
        element: int | None = None,
        ack_code: str = "",
        level: str = "IK4",
    ) -> None:
        self.findings.add(
            Finding(code, message, ERROR, self.location(tx_seg, seg_id, element), level, ack_code)
        )

    def warning(
        self, code: str, message: str, tx_seg: int, seg_id: str, element: int | None = None
    ) -> None:
        self.findings.add(Finding(code, message, WARNING, self.location(tx_seg, seg_id, element)))
