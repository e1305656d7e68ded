"""Payers' solicited refund requests: read, validate against our credits, store the verdict.

Canonical format — CSV with a header, or JSON (an array of objects, or ``{"requests": [...]}``)
— with ``payer_id, patient_control_number, payer_claim_control_number, amount, reference,
request_date`` (YYYY-MM-DD; either claim number may be empty, not both). Other layouts are
mapped by ``mappings/refund_requests/*.yaml`` (column names, date format, delimiter).

Verdicts (against the credits of the last reconciliation run):
- ``valid``: we hold active credits owed to that payer on that claim of at least the amount;
- ``partially_valid``: we hold less; ``valid_amount`` says how much;
- ``invalid`` with a reason: ``claim_not_found`` (neither number is known), ``wrong_payer``
  (the payer never adjudicated the claim, or the credit is owed to another payer),
  ``already_recouped`` (its credit was closed by a PLB recoupment, or a recoupment is on
  record), ``already_refunded`` (closed by a posted refund, or a ledger refund is on record),
  ``no_credit``.
Every verdict is stored in ``refund_requests`` for the dispute path.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from gateway.db.base import Database
from gateway.db.types import tbl
from gateway.errors import InputError
from gateway.reconcile import sql
from gateway.reconcile.ledger_ingest import resolve_provider
from gateway.reconcile.queries import list_credits
from gateway.reconcile.tables import RefundRequest
from mappings.payers import PayerDirectory, default_directory
from mappings.refund_requests import CANONICAL, RequestLayout, layouts
from schemas.serialize import money

CENT = Decimal("0.01")


class RefundRequestError(InputError):
    """The request file cannot be read; the message names the line."""

    code = "bad_request_file"


@dataclass(frozen=True, slots=True)
class Request:
    line: int
    payer_id: str
    patient_control_number: str
    payer_claim_control_number: str
    amount: Decimal
    reference: str
    request_date: dt.date | None


def parse_requests(data: bytes) -> list[Request]:
    """Requests from canonical CSV/JSON or a mapped CSV layout; raises on the first bad row."""
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RefundRequestError(f"not valid UTF-8 at byte {exc.start}") from None
    if body.lstrip().startswith(("[", "{")):
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            raise RefundRequestError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
        items = doc.get("requests") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise RefundRequestError('JSON must be an array of requests or {"requests": []}')
        return [_request(i + 1, item, CANONICAL) for i, item in enumerate(items)]
    first = body.splitlines()[0] if body.strip() else ""
    for layout in (CANONICAL, *layouts()):
        header = {h.strip() for h in next(csv.reader([first], delimiter=layout.delimiter), [])}
        needed = {layout.columns[f] for f in ("payer_id", "amount")}
        if needed <= header:
            reader = csv.DictReader(io.StringIO(body, newline=""), delimiter=layout.delimiter)
            reader.fieldnames = [h.strip() for h in reader.fieldnames or []]
            return [
                _request(reader.line_num, row, layout)
                for row in reader
                if any((v or "").strip() for v in row.values() if isinstance(v, str))
            ]
    raise RefundRequestError(
        "the header matches neither the canonical refund-request columns "
        "nor any layout in mappings/refund_requests"
    )


def _request(line: int, raw: Any, layout: RequestLayout) -> Request:
    if not isinstance(raw, dict):
        raise RefundRequestError(f"request {line}: not an object")

    def get(name: str) -> str:
        col = layout.columns.get(name)
        value = raw.get(col) if col else None
        return str(value).strip() if value is not None else ""

    payer = get("payer_id")
    pcn, icn = get("patient_control_number"), get("payer_claim_control_number")
    if not payer:
        raise RefundRequestError(f"line {line}: payer_id is empty")
    if not pcn and not icn:
        raise RefundRequestError(
            f"line {line}: needs a patient control number or a payer claim control number"
        )
    text_amount = get("amount").replace("$", "").replace(",", "")
    try:
        amount = Decimal(text_amount)
    except InvalidOperation:
        raise RefundRequestError(f"line {line}: amount {text_amount!r} is not a decimal") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise RefundRequestError(f"line {line}: amount must be positive with at most two decimals")
    when: dt.date | None = None
    if get("request_date"):
        try:
            when = dt.datetime.strptime(get("request_date"), layout.date_format).date()
        except ValueError:
            raise RefundRequestError(
                f"line {line}: request_date is not a date in format {layout.date_format}"
            ) from None
    return Request(line, payer, pcn, icn, amount.quantize(CENT), get("reference")[:80], when)


@dataclass(frozen=True, slots=True)
class Verdict:
    line: int
    payer_id: str
    patient_control_number: str
    payer_claim_control_number: str
    amount: Decimal
    reference: str
    verdict: str
    reason: str | None
    valid_amount: Decimal
    credit_ids: list[int]

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "payer_id": self.payer_id,
            "patient_control_number": self.patient_control_number,
            "payer_claim_control_number": self.payer_claim_control_number,
            "amount": money(self.amount),
            "reference": self.reference,
            "verdict": self.verdict,
            "reason": self.reason,
            "valid_amount": money(self.valid_amount),
            "credit_ids": self.credit_ids,
        }


def _claim_key(
    s: Session, pid: int, req: Request, payers: PayerDirectory, payer: str
) -> str | None:
    if req.patient_control_number:
        known = s.execute(
            text(
                "SELECT 1 FROM claims WHERE provider_id = :p AND patient_control_number = :n "
                "UNION ALL SELECT 1 FROM ledger_entries WHERE provider_id = :p AND "
                "patient_control_number = :n UNION ALL SELECT 1 FROM claim_payments WHERE "
                "provider_id = :p AND patient_control_number = :n UNION ALL SELECT 1 FROM "
                "claim_links WHERE provider_id = :p AND patient_control_number = :n LIMIT 1"
            ),
            {"p": pid, "n": req.patient_control_number},
        ).first()
        if known is not None:
            return req.patient_control_number
    if req.payer_claim_control_number:
        rows = s.execute(
            text(sql.CLAIM_KEYS_BY_ICN), {"p": pid, "icn": req.payer_claim_control_number}
        ).all()
        keys = sorted(
            {str(r[1]) for r in rows if payers.canonical(r[0]) == payer}
            or {str(r[1]) for r in rows}
        )
        if keys:
            return keys[0]
    return None


def validate(s: Session, pid: int, req: Request, payers: PayerDirectory) -> Verdict:
    payer = payers.canonical(req.payer_id)
    zero = Decimal(0)

    def verdict(
        v: str, reason: str | None, valid: Decimal = zero, ids: list[int] | None = None
    ) -> Verdict:
        return Verdict(
            req.line,
            req.payer_id,
            req.patient_control_number,
            req.payer_claim_control_number,
            req.amount,
            req.reference,
            v,
            reason,
            valid,
            ids or [],
        )

    key = _claim_key(s, pid, req, payers, payer)
    if key is None:
        return verdict("invalid", "claim_not_found")
    credits = list_credits(s, status="all", provider_id=pid, patient_control_number=key)
    active = [c for c in credits if c.status != "resolved"]
    mine = [c for c in active if c.owed_to == "payer" and c.payer_id == payer]
    held = sum((c.amount for c in mine), zero)
    ids = [c.id for c in mine]
    if held >= req.amount:
        return verdict("valid", None, req.amount, ids)
    if held > 0:
        return verdict("partially_valid", None, held, ids)
    adjudicated = {
        payers.canonical(str(r[0]))
        for r in s.execute(text(sql.ADJUDICATING_PAYERS), {"p": pid, "n": key})
    }
    if payer not in adjudicated or any(c.owed_to == "payer" for c in active):
        return verdict("invalid", "wrong_payer")
    closed = [c for c in credits if c.status == "resolved" and c.payer_id == payer]
    if any(c.resolution == "recouped_by_plb" for c in closed):
        return verdict("invalid", "already_recouped")
    if any(c.resolution == "refund_posted" for c in closed):
        return verdict("invalid", "already_refunded")
    refunded = s.execute(
        text(
            "SELECT COUNT(*) FROM ledger_entries le LEFT JOIN payer_aliases a ON a.alias = "
            "le.payer_id WHERE le.provider_id = :p AND le.patient_control_number = :n AND "
            "le.type = 'refund' AND le.party = 'payer' AND COALESCE(a.payer_id, le.payer_id) = :y"
        ),
        {"p": pid, "n": key, "y": payer},
    ).scalar_one()
    if refunded:
        return verdict("invalid", "already_refunded")
    recouped = s.execute(
        text(
            "SELECT COUNT(*) FROM plb_matches WHERE provider_id = :p AND "
            "patient_control_number = :n AND payer_id = :y"
        ),
        {"p": pid, "n": key, "y": payer},
    ).scalar_one()
    if recouped:
        return verdict("invalid", "already_recouped")
    return verdict("invalid", "no_credit")


def validate_file(
    db: Database,
    data: bytes,
    *,
    name: str,
    provider: str | None = None,
    as_of: dt.date | None = None,
    payers: PayerDirectory | None = None,
) -> list[Verdict]:
    """Validate every request of a file and store the verdicts (one transaction)."""
    requests = parse_requests(data)
    directory = payers or default_directory()
    day = as_of or dt.date.today()
    out: list[Verdict] = []
    with db.write() as s:
        pid = resolve_provider(s, provider, create=False)
        rows = []
        for req in requests:
            v = validate(s, pid, req, directory)
            out.append(v)
            rows.append(
                {
                    "provider_id": pid,
                    "payer_id": req.payer_id[:80],
                    "patient_control_number": req.patient_control_number[:38],
                    "payer_claim_control_number": req.payer_claim_control_number[:50],
                    "amount": req.amount,
                    "reference": req.reference,
                    "request_date": req.request_date,
                    "source_name": name[:512],
                    "line": req.line,
                    "verdict": v.verdict,
                    "reason": v.reason,
                    "valid_amount": v.valid_amount,
                    "credit_ids": v.credit_ids or None,
                    "validated_on": day,
                    "details": "",
                }
            )
        if rows:
            s.execute(insert(tbl(RefundRequest)), rows)
    return out


__all__ = [
    "RefundRequestError",
    "Request",
    "Verdict",
    "parse_requests",
    "validate",
    "validate_file",
]
