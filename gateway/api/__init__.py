"""HTTP API and ops console (FastAPI)."""
