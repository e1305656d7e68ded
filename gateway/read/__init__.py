"""The read models: one pydantic model per resource the gateway shows (credit, case, batch,
variance, report rows), used by the CLI's ``--json``, the HTTP API (as response models, so the
OpenAPI document has their schemas) and the console, so all three print the same schema.

Serialise with ``model.model_dump(mode="json")`` (or let FastAPI do it): money is a ``Decimal``
in Python and a two-decimal string in JSON, dates are ``date`` and ISO strings, timestamps
keep Python's ``isoformat`` (``+00:00``, as the API always printed them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def dump(model: BaseModel) -> dict[str, Any]:
    """A read model as JSON-ready data (what ``--json`` prints and the API sends)."""
    out: dict[str, Any] = model.model_dump(mode="json")
    return out


__all__ = ["dump"]
