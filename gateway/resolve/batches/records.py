"""What an issued batch writes: its row, its files (sealed at rest), their manifest and the
batch's items; and the files' exact bytes read back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gateway.db.types import tbl, utcnow
from gateway.resolve.render import Rendered
from gateway.resolve.tables import BatchFile, BatchItem, ResolutionBatch
from schemas.serialize import money
from schemas.states import BatchState

KIND_CODE = {"refund_transmittal": "RF", "offset": "OF", "patient_refunds": "PR", "dispute": "DS"}

#: batch file bytes name patients and member ids (letters, AP lists): sealed at rest
CONTENT = "batch_files.content"


def seal_content(data: bytes) -> bytes:
    """The file's bytes sealed with the data-key ring (as they are when encryption is off)."""
    import base64

    from gateway.security.columns import column_cipher

    sealed = column_cipher().seal(base64.b64encode(data).decode("ascii"), CONTENT)
    return data if sealed is None or not sealed.startswith("v1:") else sealed.encode("ascii")


def open_content(stored: bytes) -> bytes:
    """The exact file bytes of a stored batch file (legacy plaintext passes through)."""
    import base64

    from gateway.security.columns import column_cipher

    if not stored.startswith(b"v1:"):
        return stored
    plain = column_cipher().open(stored.decode("ascii"), CONTENT)
    return base64.b64decode(plain or "")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_batch(
    s: Session,
    *,
    provider_id: int,
    payer_id: str,
    kind: str,
    msp: bool,
    as_of: dt.date,
    reference: str | None,
    partner_id: str | None,
    actor: str,
) -> tuple[int, str, str]:
    """Insert the batch row; returns (id, batch key, reference)."""
    bt = tbl(ResolutionBatch)
    batch_id = int(
        s.execute(
            insert(bt)
            .values(
                batch_key=f"tmp-{uuid.uuid4().hex}",
                provider_id=provider_id,
                payer_id=payer_id,
                kind=kind,
                msp=msp,
                state=BatchState.ISSUED,
                as_of=as_of,
                reference="",
                partner_id=partner_id,
                record_count=0,
                amount=Decimal("0.00"),
                created_by=actor[:128],
                created_at=utcnow(),
            )
            .returning(bt.c.id)
        ).scalar_one()
    )
    key = f"{KIND_CODE[kind]}{batch_id:06d}"
    ref = (reference or key)[:80]
    s.execute(update(bt).where(bt.c.id == batch_id).values(batch_key=key, reference=ref))
    return batch_id, key, ref


def store_files(
    s: Session,
    batch_id: int,
    header: Mapping[str, Any],
    data: Rendered,
    letter: bytes | None,
    kind: str,
    credit_ids: list[int],
    items: Iterable[dict[str, Any]],
) -> None:
    files: list[dict[str, Any]] = [
        {
            "name": data.filename,
            "role": "data",
            "content": data.content,
            "record_count": data.record_count,
            "amount_sum": data.amount_sum,
        }
    ]
    if letter is not None:
        stem = data.filename.rsplit(".", 1)[0]
        files.append(
            {
                "name": f"{stem}.pdf",
                "role": "letter",
                "content": letter,
                "record_count": data.record_count,
                "amount_sum": data.amount_sum,
            }
        )
    manifest = {
        "batch_id": header["batch_id"],
        "kind": kind,
        "provider_npi": header["provider_npi"],
        "payer_id": header["payer_id"] or None,
        "msp": header["msp_flag"] == "Y",
        "created_on": header["created_on"].isoformat(),
        "reference": header["reference"],
        "credit_ids": credit_ids,
        "totals": {"record_count": data.record_count, "amount": money(data.amount_sum)},
        "files": [
            {
                "name": f["name"],
                "role": f["role"],
                "sha256": _sha(f["content"]),
                "size": len(f["content"]),
                "record_count": f["record_count"],
                "amount_sum": money(f["amount_sum"]),
            }
            for f in files
        ],
    }
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    files.append(
        {
            "name": f"{header['batch_id']}.manifest.json",
            "role": "manifest",
            "content": body,
            "record_count": data.record_count,
            "amount_sum": data.amount_sum,
        }
    )
    s.execute(
        insert(tbl(BatchFile)),
        [
            {
                "batch_id": batch_id,
                "name": f["name"],
                "role": f["role"],
                "sha256": _sha(f["content"]),
                "size": len(f["content"]),
                "record_count": f["record_count"],
                "amount_sum": f["amount_sum"],
                "content": seal_content(f["content"]),
            }
            for f in files
        ],
    )
    s.execute(insert(tbl(BatchItem)), list(items))
    s.execute(
        update(tbl(ResolutionBatch))
        .where(tbl(ResolutionBatch).c.id == batch_id)
        .values(record_count=data.record_count, amount=data.amount_sum, manifest=manifest)
    )


def batch_content(s: Session, batch_id: int) -> dict[str, bytes]:
    """name → exact bytes of every file of a batch."""
    ft = tbl(BatchFile)
    return {
        r.name: open_content(bytes(r.content))
        for r in s.execute(
            select(ft.c.name, ft.c.content).where(ft.c.batch_id == batch_id).order_by(ft.c.id)
        )
    }


__all__ = ["batch_content", "new_batch", "open_content", "seal_content", "store_files"]
