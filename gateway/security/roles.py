"""Roles of API keys and console users, apart from ``gateway.api.keys`` so the CLI can name them
without SQLAlchemy."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """What a caller may do. Uploader: upload and read its own provider's files. Analyst: work
    cases in the console. Ops: operate (replay, batches). Auditor: read everything. Admin: ops,
    for people (users are managed with ``gateway users``)."""

    UPLOADER = "uploader"
    OPS = "ops"
    AUDITOR = "auditor"
    ANALYST = "analyst"
    ADMIN = "admin"


class KeyRole(enum.StrEnum):
    """The roles an API key (a machine) may hold."""

    UPLOADER = "uploader"
    OPS = "ops"
    AUDITOR = "auditor"


#: roles a person may hold (``gateway users add --role``)
USER_ROLES = frozenset(Role)
#: roles an API key may hold
KEY_ROLES = frozenset(Role(r.value) for r in KeyRole)
#: roles that may operate: replay files, build and deliver batches, approve
OPERATORS = frozenset({Role.OPS, Role.ADMIN})
