"""API key roles, apart from ``gateway.api.keys`` so the CLI can name them without SQLAlchemy."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """What a key may do. Uploader: upload and read its own files. Auditor: read everything."""

    UPLOADER = "uploader"
    OPS = "ops"
    AUDITOR = "auditor"
