"""Which provider's figures a key may see: a provider-bound key only its own (asking for another
is refused), a global key (ops, auditor) all or the one it names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import Provider
from gateway.db.types import tbl
from gateway.errors import InputError, NotFoundError


class ScopeForbiddenError(InputError):
    """This key may not see that provider's figures."""

    code = "provider_forbidden"


#: no provider has this id: a provider-bound key whose provider has sent nothing yet
NOBODY = 0


def resolve_scope(s: Session, *, key_provider: str | None, requested: str | None) -> int | None:
    """The provider id to scope a report to (None: every provider).

    ``key_provider`` is the key's normalised provider key (``npi:...``/``tin:...``) or None;
    ``requested`` is the provider key the caller asked for, normalised the same way (the API
    and CLI use ``gateway.api.keys.normalise_provider``).
    """
    wanted = requested or None
    pt = tbl(Provider)
    if key_provider is not None:
        if wanted is not None and wanted != key_provider:
            raise ScopeForbiddenError("this key may only see its own provider's reports")
        pid = s.execute(select(pt.c.id).where(pt.c.key == key_provider)).scalar_one_or_none()
        return int(pid) if pid is not None else NOBODY
    if wanted is None:
        return None
    pid = s.execute(select(pt.c.id).where(pt.c.key == wanted)).scalar_one_or_none()
    if pid is None:
        raise NotFoundError(f"no provider {wanted}", code="provider_not_found")
    return int(pid)


__all__ = ["NOBODY", "ScopeForbiddenError", "resolve_scope"]
