"""The four events, each queued in the transaction of the change it announces.

Payloads carry ids, codes, amounts and dates, never PHI (no names, member ids or patient
control numbers): a receiver fetches details through the API with its own key.

- ``file.quarantined``: from ``gateway.ingest.queue.finish_failed``;
- ``credit.identified``: the credits a reconcile run found, in the run's last transaction;
- ``credit.deadline``: ``scan_deadlines`` (``gateway webhooks scan``), once per credit and due
  date, for unresolved credits due within N days;
- ``batch.delivered``: when the last file of a refund batch is delivered
  (``gateway.outbound.receipts``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Integer, String, column, select, table
from sqlalchemy.orm import Session

from gateway.db.models import InboundFile, Provider
from gateway.db.types import MONEY
from gateway.webhooks.service import emit
from gateway.webhooks.tables import WebhookSubscription

# tables of other concerns, named in Core so this module imports none of their code
_uploads = table("api_uploads", column("file_id"), column("api_key_id"))
_keys = table("api_keys", column("id"), column("provider_key"))
_credits = table(
    "credits",
    column("id", Integer),
    column("provider_id", Integer),
    column("payer_id", String),
    column("cause", String),
    column("amount", MONEY),
    column("government", Boolean),
    column("owed_to", String),
    column("identified_on", Date),
    column("due_by", Date),
    column("status", String),
    column("first_run_id", Integer),
)
_batch_files = table("batch_files", column("batch_id"), column("outbound_file_id"))
_outbound = table("outbound_files", column("id"), column("state"))
_batches = table("resolution_batches", column("id"), column("batch_key"), column("provider_id"))


def _wanted(s: Session, event: str) -> bool:
    """Cheap guard: does any active subscription want ``event`` at all?"""
    rows = s.execute(
        select(WebhookSubscription.events).where(WebhookSubscription.disabled_at.is_(None))
    ).scalars()
    return any(event in events.split(",") for events in rows)


def _provider_key(s: Session, provider_id: int | None) -> str | None:
    if provider_id is None:
        return None
    key: str | None = s.execute(
        select(Provider.key).where(Provider.id == provider_id)
    ).scalar_one_or_none()
    return key


def file_quarantined(s: Session, file_id: int, code: str, kind: str) -> None:
    """Queue ``file.quarantined`` for the file's provider (parsed, or its uploader key's)."""
    if not _wanted(s, "file.quarantined"):
        return
    provider_id = s.execute(
        select(InboundFile.provider_id).where(InboundFile.id == file_id)
    ).scalar_one_or_none()
    providers = {_provider_key(s, provider_id)}
    providers |= set(
        s.execute(
            select(_keys.c.provider_key)
            .join(_uploads, _uploads.c.api_key_id == _keys.c.id)
            .where(_uploads.c.file_id == file_id, _keys.c.provider_key.is_not(None))
        ).scalars()
    )
    stamp = int(dt.datetime.now(dt.UTC).timestamp() * 1000)  # each quarantine is an event
    for pk in sorted(p for p in providers if p):
        emit(
            s,
            provider_key=pk,
            event="file.quarantined",
            data={"file_id": file_id, "error_code": code, "kind": kind},
            dedupe=f"file:{file_id}:quarantined:{stamp}",
        )


def _credit_data(row: object) -> dict[str, object]:
    r = row._mapping  # type: ignore[attr-defined]
    return {
        "credit_id": r["id"],
        "payer_id": r["payer_id"],
        "cause": r["cause"],
        "owed_to": r["owed_to"],
        "amount": str(r["amount"]),
        "government": bool(r["government"]),
        "identified_on": str(r["identified_on"]),
        "due_by": str(r["due_by"]) if r["due_by"] is not None else None,
    }


def credits_identified(s: Session, run_id: int) -> int:
    """Queue ``credit.identified`` for each credit first found by run ``run_id``."""
    if not _wanted(s, "credit.identified"):
        return 0
    queued = 0
    rows = s.execute(select(_credits).where(_credits.c.first_run_id == run_id)).all()
    for row in rows:
        queued += emit(
            s,
            provider_key=_provider_key(s, row.provider_id),
            event="credit.identified",
            data=_credit_data(row),
            dedupe=f"credit:{row.id}:identified",
        )
    return queued


def scan_deadlines(s: Session, *, within_days: int, today: dt.date | None = None) -> int:
    """Queue ``credit.deadline`` for unresolved credits due within ``within_days`` (once per
    credit and due date, however often this runs)."""
    if not _wanted(s, "credit.deadline"):
        return 0
    day = today or dt.date.today()
    rows = s.execute(
        select(_credits).where(
            _credits.c.status != "resolved",
            _credits.c.due_by.is_not(None),
            _credits.c.due_by <= day + dt.timedelta(days=within_days),
        )
    ).all()
    queued = 0
    for row in rows:
        data = _credit_data(row)
        data["days_left"] = (row.due_by - day).days
        data["status"] = row.status
        queued += emit(
            s,
            provider_key=_provider_key(s, row.provider_id),
            event="credit.deadline",
            data=data,
            dedupe=f"credit:{row.id}:deadline:{row.due_by}",
        )
    return queued


def batch_delivered(s: Session, outbound_id: int) -> None:
    """Queue ``batch.delivered`` once every file of ``outbound_id``'s batch is delivered."""
    if not _wanted(s, "batch.delivered"):
        return
    batch_id = s.execute(
        select(_batch_files.c.batch_id).where(_batch_files.c.outbound_file_id == outbound_id)
    ).scalar_one_or_none()
    if batch_id is None:
        return
    states = s.execute(
        select(_outbound.c.state)
        .join(_batch_files, _batch_files.c.outbound_file_id == _outbound.c.id)
        .where(_batch_files.c.batch_id == batch_id)
    ).scalars()
    if any(state != "delivered" for state in states):
        return
    batch = s.execute(select(_batches).where(_batches.c.id == batch_id)).one()
    emit(
        s,
        provider_key=_provider_key(s, batch.provider_id),
        event="batch.delivered",
        data={"batch_id": batch_id, "batch_key": batch.batch_key},
        dedupe=f"batch:{batch_id}:delivered",
    )


__all__ = ["batch_delivered", "credits_identified", "file_quarantined", "scan_deadlines"]
