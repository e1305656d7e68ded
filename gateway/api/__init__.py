"""HTTP API and ops console (FastAPI): ``create_app(settings)``."""

from gateway.api.app import create_app

__all__ = ["create_app"]
