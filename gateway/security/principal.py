"""Who is calling: the authenticated principal of a request or command, and the one syntax of a
provider key. Below the API so that services (users, webhooks) can name a caller without
importing the HTTP layer."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gateway.db.types import utcnow
from gateway.errors import InputError
from gateway.security.roles import Role

_PROVIDER = re.compile(r"^(npi:\d{10}|tin:[0-9A-Za-z-]{1,18})$")
#: ``last_used_at`` is refreshed at most this often, so reads do not turn into writes
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    id: int
    key_id: str
    name: str
    role: Role
    provider_key: str | None
    last_used_at: dt.datetime | None = None
    #: set for a person signed in to the console (``gateway.users``); None for an API key
    user_id: int | None = None

    @property
    def needs_touch(self) -> bool:
        """True when ``last_used_at`` is older than ``TOUCH_EVERY`` (or never set)."""
        if self.last_used_at is None:
            return True
        last = self.last_used_at
        if last.tzinfo is None:  # SQLite hands back naive UTC
            last = last.replace(tzinfo=dt.UTC)
        return utcnow() - last > TOUCH_EVERY

    @property
    def actor(self) -> str:
        """How this caller appears in the audit log and file history."""
        if self.user_id is not None:
            return f"user:{self.name}"
        return f"apikey:{self.name}"


def normalise_provider(value: str) -> str:
    """``1234567893`` → ``npi:1234567893``; ``npi:…``/``tin:…`` are kept."""
    v = value.strip()
    if re.fullmatch(r"\d{10}", v):
        v = f"npi:{v}"
    if not _PROVIDER.match(v):
        raise InputError(
            f"provider {value!r} is not an NPI (10 digits), npi:NPI or tin:TIN", code="bad_provider"
        )
    return v
