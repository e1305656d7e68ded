"""HTTP API and ops console (FastAPI): ``create_app(settings)``.

``create_app`` is imported on first use (PEP 562), so that light users of this package
(``gateway.api.keys`` for ``gateway keys``, ``gateway.api.tables`` for the schema) do not load
FastAPI, the routes and fpdf behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from gateway.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
