"""Layouts of payers' refund-request files (``mappings/refund_requests/*.yaml``): which column
holds each canonical field, the delimiter and the date format."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, ConfigDict

from mappings.loader import MAPPINGS_DIR, load_folder

LAYOUT_DIR = MAPPINGS_DIR / "refund_requests"
CODE = "refund_request_layout_invalid"
FIELDS = (
    "payer_id",
    "patient_control_number",
    "payer_claim_control_number",
    "amount",
    "reference",
    "request_date",
)


class RequestLayout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    delimiter: str = ","
    date_format: str = "%Y-%m-%d"
    columns: dict[str, str]


CANONICAL = RequestLayout(name="canonical", columns={f: f for f in FIELDS})


@cache
def layouts() -> tuple[RequestLayout, ...]:
    """The shipped layouts (cached for the process)."""
    return tuple(layout for _, layout in load_folder(RequestLayout, LAYOUT_DIR, code=CODE))


__all__ = ["CANONICAL", "FIELDS", "LAYOUT_DIR", "RequestLayout", "layouts"]
