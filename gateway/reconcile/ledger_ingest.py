"""Ledger files through the ingest pipeline: sniff, parse, load ``ledger_entries``.

A stored file is a ledger when ``gateway ingest --kind ledger`` declared it (``ledger_imports``)
or when it is not X12 and its header matches a known layout (canonical or
``mappings/ledger/*.yaml``). It is parsed with ``parsers.ledger`` and its rows written in the
transaction that marks the file processed; any bad row quarantines the file with every
row-numbered error.

Re-imports never double-count. Identical bytes are the same registry row (sha256). For
overlapping exports, each row has a natural key per provider — (account, pcn, posted date,
type, party, payer, amount, reference) — and an occurrence number within its file (the n-th
identical row of that file). A row is stored only when the provider has no stored row with the
same key and occurrence; so a key's stored count is the largest count any single file gave it.
Two genuine identical postings in one file are both kept; the same posting repeated by a later
overlapping export is reported as a duplicate row (a warning finding on the file) and skipped.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.errors import InputError
from gateway.ingest import binding
from gateway.ingest.load_stats import LoadStats
from gateway.reconcile import claim_departments
from gateway.reconcile.tables import LedgerEntry, LedgerImport
from mappings.ledger_layouts import load_layouts
from mappings.loader import MappingError
from parsers.ledger import (
    LedgerError,
    LedgerLayout,
    LedgerResult,
    LedgerRow,
    RowError,
    parse_ledger,
    sniff_layout,
)

KIND = "ledger"
MAX_REPORTED_ERRORS = 50
MAX_REPORTED_DUPLICATES = 200
#: column widths of ledger_entries (a longer value is a row error, not a database error)
WIDTHS = {
    "account_id": 64,
    "patient_control_number": 38,
    "payer_id": 80,
    "reference": 256,
    "procedure_code": 48,
    "revenue_code": 8,
    "modifiers": 32,
    "line_ref": 50,
    "department": 64,
}
LINE_FIELDS = ("procedure_code", "revenue_code", "modifiers", "service_date", "units", "line_ref")


class LedgerRejectedError(InputError):
    """The ledger file cannot be loaded."""

    code = "bad_ledger"


class ProviderChoiceError(InputError):
    """Whose ledger this is cannot be decided."""

    code = "ledger_provider_unknown"


@cache
def _layouts() -> tuple[LedgerLayout, ...]:
    return tuple(load_layouts())


def is_x12(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:3] == b"ISA"


def sniff(data: bytes) -> LedgerLayout | None:
    """The ledger layout of ``data``, or None when it is X12 or no layout matches."""
    if is_x12(data):
        return None
    try:
        return sniff_layout(data, list(_layouts()))
    except MappingError:
        return None


def resolve_provider(session: Session, spec: str | None, *, create: bool = True) -> int:
    """The provider a ledger belongs to: NPI, TIN or internal id; else the only provider.

    An NPI (10 digits) that no file has named yet creates the provider, keyed as the ingest
    pipeline keys it (``npi:<npi>``), so a ledger may arrive before the provider's 835s.
    """
    p = tbl(Provider)
    if spec is None:
        ids = list(session.execute(select(p.c.id).order_by(p.c.id).limit(2)).scalars())
        if len(ids) == 1:
            return int(ids[0])
        if not ids:
            raise ProviderChoiceError(
                "no provider is known yet: pass --provider NPI (or "
                "ingest the provider's 835/837 files first)"
            )
        raise ProviderChoiceError(
            "several providers are known: pass --provider NPI|TIN|id to say whose ledger this is"
        )
    spec = spec.strip()
    found = (
        session.execute(
            select(p.c.id).where((p.c.npi == spec) | (p.c.tin == spec) | (p.c.key == spec))
        )
        .scalars()
        .all()
    )
    if not found and spec.isdigit() and len(spec) < 10:
        found = session.execute(select(p.c.id).where(p.c.id == int(spec))).scalars().all()
    if len(found) == 1:
        return int(found[0])
    if len(found) > 1:
        raise ProviderChoiceError(
            f"--provider {spec} matches {len(found)} providers; use the internal provider id"
        )
    if create and spec.isdigit() and len(spec) == 10:
        session.execute(insert(p).values(key=f"npi:{spec}", npi=spec, tin=None, name=""))
        return int(session.execute(select(p.c.id).where(p.c.key == f"npi:{spec}")).scalar_one())
    raise ProviderChoiceError(f"no provider with NPI, TIN or id {spec!r}")


def declare(session: Session, file_id: int, provider_id: int, actor: str) -> None:
    """Record whose ledger a stored file is (first declaration wins)."""
    t = tbl(LedgerImport)
    exists = session.execute(select(t.c.file_id).where(t.c.file_id == file_id)).first()
    if exists is None:
        session.execute(
            insert(t).values(file_id=file_id, provider_id=provider_id, declared_by=actor[:128])
        )


def layout_for(session: Session, file_id: int, data: bytes) -> LedgerLayout | None:
    """The ledger layout to load ``file_id`` with, or None when it is not a ledger file."""
    t = tbl(LedgerImport)
    declared = session.execute(select(t.c.provider_id).where(t.c.file_id == file_id)).first()
    layout = sniff(data)
    if declared is not None and layout is None:
        raise LedgerRejectedError(
            "declared a ledger, but its header matches neither the canonical ledger columns "
            "nor any layout in mappings/ledger",
            location={"line": 1},
        )
    return layout


def entry_key(r: LedgerRow) -> str:
    """sha256 of the natural key of a posting (fields joined by an unambiguous separator)."""
    parts = (
        r.account_id,
        r.patient_control_number,
        r.posted_date.isoformat(),
        r.type,
        r.party,
        r.payer_id,
        f"{r.amount:.2f}",
        r.reference,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class LedgerLoad:
    stats: LoadStats
    rows: int
    inserted: int
    duplicates: list[int]
    notes: list[dict[str, Any]]


def _ledger_provider(session: Session, file_id: int, bound: frozenset[str]) -> int:
    """Whose ledger this is: the uploader's provider, the one declared, or the only one."""
    t = tbl(LedgerImport)
    declared = session.execute(select(t.c.provider_id).where(t.c.file_id == file_id)).first()
    if bound:
        return _bound_provider(session, declared[0] if declared else None, bound)
    if declared is not None:
        return int(declared[0])
    try:
        return resolve_provider(session, None)
    except ProviderChoiceError as exc:
        raise LedgerRejectedError(exc.message + "; then replay this file", code=exc.code) from exc


def _checked(data: bytes, layout: LedgerLayout) -> LedgerResult:
    """The parsed rows, or ``LedgerRejectedError`` naming the first bad rows (none is loaded)."""
    try:
        result = parse_ledger(data, layout)
    except LedgerError as exc:
        raise LedgerRejectedError(exc.reason, location={"line": exc.line}) from exc
    errors = list(result.errors)
    for r in result.rows:
        for col, width in WIDTHS.items():
            if len(getattr(r, col)) > width:
                errors.append(
                    RowError(
                        r.line, layout.columns.get(col, col), f"longer than {width} characters"
                    )
                )
    if errors:
        errors.sort(key=lambda e: e.line)
        shown = "; ".join(e.describe() for e in errors[:MAX_REPORTED_ERRORS])
        more = (
            f" (and {len(errors) - MAX_REPORTED_ERRORS} more)"
            if len(errors) > MAX_REPORTED_ERRORS
            else ""
        )
        raise LedgerRejectedError(
            f"{len(errors)} bad row(s) in layout {layout.name}: {shown}{more}",
            location={"line": errors[0].line, "column": errors[0].column},
        )
    return result


def _existing(
    session: Session, provider_id: int, pairs: list[tuple[str, int]]
) -> dict[tuple[str, int], tuple[int, bool, bool]]:
    """(key, occurrence) → (row id, whether it has line detail, whether it has a department),
    of rows loaded before."""
    le = tbl(LedgerEntry)
    existing: dict[tuple[str, int], tuple[int, bool, bool]] = {}
    for i in range(0, len(pairs), 500):
        chunk = pairs[i : i + 500]
        for row in session.execute(
            select(
                le.c.entry_key,
                le.c.occurrence,
                le.c.id,
                le.c.procedure_code,
                le.c.revenue_code,
                le.c.line_ref,
                le.c.department,
            ).where(
                le.c.provider_id == provider_id, tuple_(le.c.entry_key, le.c.occurrence).in_(chunk)
            )
        ):
            existing[(row[0], row[1])] = (
                int(row[2]),
                bool(row[3] or row[4] or row[5]),
                bool(row[6]),
            )
    return existing


def load(
    session: Session,
    file_id: int,
    data: bytes,
    layout: LedgerLayout,
    *,
    bound: frozenset[str] = frozenset(),
) -> LedgerLoad:
    """Parse and write one ledger file's rows; raises ``LedgerRejectedError`` on any bad row.

    ``bound``: providers of the scoped keys that uploaded the file. Their ledger it is: one
    declared for anyone else (or uploaded by keys of two providers) is refused.
    """
    provider_id = _ledger_provider(session, file_id, bound)
    result = _checked(data, layout)
    le = tbl(LedgerEntry)
    session.execute(delete(le).where(le.c.file_id == file_id))
    seen: Counter[str] = Counter()
    keyed: list[tuple[str, int, LedgerRow]] = []
    for r in result.rows:
        k = entry_key(r)
        seen[k] += 1
        keyed.append((k, seen[k], r))
    existing = _existing(session, provider_id, [(k, n) for k, n, _ in keyed])
    values = []
    duplicates = []
    enriched: list[dict[str, Any]] = []
    departments: list[dict[str, Any]] = []
    for k, n, r in keyed:
        known = existing.get((k, n))
        if known is not None:
            duplicates.append(r.line)
            # the layout now sends line detail or the department: fill in the row sent before
            if not known[1] and (r.procedure_code or r.revenue_code or r.line_ref):
                enriched.append({"b_id": known[0], **_line_values(r)})
            if not known[2] and r.department:
                departments.append({"b_id": known[0], "b_department": r.department})
            continue
        values.append(
            {
                "file_id": file_id,
                "provider_id": provider_id,
                "line": r.line,
                "account_id": r.account_id,
                "patient_control_number": r.patient_control_number,
                "posted_date": r.posted_date,
                "type": r.type,
                "party": r.party,
                "payer_id": r.payer_id,
                "amount": r.amount,
                "reference": r.reference,
                "entry_key": k,
                "occurrence": n,
                "department": r.department,
                **_line_values(r),
            }
        )
    for i in range(0, len(values), 2000):
        session.execute(insert(le), values[i : i + 2000])
    if enriched:
        session.execute(
            update(le)
            .where(le.c.id == bindparam("b_id"))
            .values({f: bindparam(f) for f in LINE_FIELDS}),
            enriched,
        )
    if departments:
        session.execute(
            update(le)
            .where(le.c.id == bindparam("b_id"))
            .values(department=bindparam("b_department")),
            departments,
        )
    notes: list[dict[str, Any]] = []
    if duplicates:
        lines = ", ".join(str(n) for n in duplicates[:MAX_REPORTED_DUPLICATES])
        notes.append(
            {
                "code": "ledger_duplicate_rows",
                "severity": "warning",
                "message": f"{len(duplicates)} row(s) were already imported from another file "
                f"and were skipped: line(s) {lines}",
                "location": {"line": duplicates[0]},
            }
        )
    if enriched:
        notes.append(
            {
                "code": "ledger_line_detail_added",
                "severity": "warning",
                "message": f"{len(enriched)} row(s) imported before without line detail gained "
                "it from this file",
                "location": {"line": 1},
            }
        )
    if departments:
        notes.append(
            {
                "code": "ledger_department_added",
                "severity": "warning",
                "message": f"{len(departments)} row(s) imported before without a department "
                "gained it from this file",
                "location": {"line": 1},
            }
        )
    claim_departments.refresh(session, provider_id, (r.patient_control_number for r in result.rows))
    stats = LoadStats(kind=KIND, provider_id=provider_id)
    return LedgerLoad(stats, len(result.rows), len(values), duplicates, notes)


def _bound_provider(session: Session, declared: int | None, bound: frozenset[str]) -> int:
    if len(bound) == 1:
        (key,) = bound
        provider_id = binding.provider_for_key(session, key)
        if declared is None or int(declared) == provider_id:
            return provider_id
    raise LedgerRejectedError(
        f"this ledger was uploaded by a key of provider {' and '.join(sorted(bound))} but is "
        "declared as another provider's ledger; nothing of it was loaded",
        code="provider_mismatch",
        location={"line": 1},
    )


def _line_values(r: LedgerRow) -> dict[str, Any]:
    return dict(zip(LINE_FIELDS, r.line_detail, strict=True))


__all__ = [
    "KIND",
    "LedgerLoad",
    "LedgerRejectedError",
    "ProviderChoiceError",
    "declare",
    "entry_key",
    "is_x12",
    "layout_for",
    "load",
    "resolve_provider",
    "sniff",
]
