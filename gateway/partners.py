"""SFTP partners inside ``gateway run`` and ``gateway worker``: poll, acknowledge, deliver.

The one place that wires intake (the poller) and outbound (acknowledgments, deliveries)
together; neither imports the other.

``PartnerServices`` ties the pieces to one database and raw store:

* a ``PartnerPoller`` (a thread per clearinghouse) streams pulled files into ``accept_stream``
  and notes the acknowledgments owed;
* an outbound thread, every ``worker_poll_seconds``, renders the acknowledgments of files the
  workers have finished and drains the outbound queue (acknowledgments and ``gateway deliver``
  files alike), each partner in its own thread so one partner's outage delays no other.

Partners come from ``GATEWAY_PARTNERS_DIR`` (setting ``partners_dir``), else from the shipped
``mappings/partners`` folder; only profiles with ``enabled: true`` are used, so the shipped
examples (disabled) never make a gateway reach example hosts.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.db.base import Database
from gateway.logging import get_logger
from gateway.settings import Settings, x12_limits
from gateway.store.base import RawStore
from mappings.partners import PARTNERS_DIR, PartnerProfile, load_partners

if TYPE_CHECKING:
    from gateway.intake.pull import Acceptor, PollResult
    from gateway.outbound.acks import RenderedAck
    from gateway.outbound.queue import DrainResult

log = get_logger("gateway.partners")


def configured_partners(settings: Settings) -> dict[str, PartnerProfile]:
    """Enabled partner profiles; raises ``MappingError`` for an invalid one."""
    folder: Path = getattr(settings, "partners_dir", None) or PARTNERS_DIR
    if folder == PARTNERS_DIR and not folder.is_dir():
        return {}
    return {pid: p for pid, p in load_partners(folder).items() if p.enabled}


def make_acceptor(db: Database, raw: RawStore, settings: Settings) -> Acceptor:
    """``accept_stream`` bound to this gateway's database, raw store and size cap."""
    from gateway.intake.service import accept_stream

    bound: Acceptor = functools.partial(
        accept_stream, db, raw, actor="sftp-poller", max_bytes=settings.max_file_bytes
    )
    return bound


class PartnerServices:
    """Polling, acknowledgments and deliveries for the configured partners.

    Intake (SFTP: paramiko, cryptography) and outbound load here, when a partner is enabled:
    a worker without partners never imports them (about 9 MB of its peak memory).
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        raw: RawStore,
        profiles: Mapping[str, PartnerProfile],
        *,
        owner: str,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from gateway.intake.poller import PartnerPoller
        from gateway.outbound.acks import AckRequests
        from gateway.outbound.enqueue import outbound_store
        from gateway.outbound.receipts import DbFailureLog

        self.settings = settings
        self.db = db
        self.raw = raw
        self.profiles = dict(profiles)
        self.owner = owner
        self.environ = environ
        self.out_store = outbound_store(settings.data_dir)
        self.failures = DbFailureLog(db)
        self.poller = PartnerPoller(
            list(self.profiles.values()),
            make_acceptor(db, raw, settings),
            failures=self.failures,
            environ=environ,
            on_accepted=AckRequests(db),
            on_result=self._on_result,
        )
        self.stop = self.poller.stop
        self._thread: threading.Thread | None = None

    def _on_result(self, result: PollResult) -> None:
        from gateway.outbound.receipts import resolve_failures

        if result.error is None:
            resolved = resolve_failures(self.db, partner_id=result.partner_id, operation="poll")
            if resolved:
                log.info("sftp_partner_recovered", partner=result.partner_id, resolved=resolved)

    def poll_once(self) -> list[PollResult]:
        return self.poller.poll_once()

    def tick(self) -> tuple[list[RenderedAck], DrainResult]:
        """Queue the acknowledgments now due, then deliver everything due."""
        from gateway.outbound.acks import render_due
        from gateway.outbound.queue import DrainResult, drain

        acks = render_due(
            self.db, self.raw, self.out_store, self.profiles, limits=x12_limits(self.settings)
        )
        drained = DrainResult()

        def one(profile: PartnerProfile) -> DrainResult:
            return drain(
                self.db,
                self.out_store,
                {profile.id: profile},
                owner=self.owner,
                environ=self.environ,
                stop=self.stop,
            )

        # a thread per partner: one partner's outage (retries, backoff) never delays another's
        with ThreadPoolExecutor(
            max_workers=max(1, len(self.profiles)), thread_name_prefix="outbound"
        ) as pool:
            for part in pool.map(one, self.profiles.values()):
                drained.delivered.extend(part.delivered)
                drained.retrying.extend(part.retrying)
                drained.failed.extend(part.failed)
        return acks, drained

    def _outbound_loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug or a database outage must not end deliveries for good
                log.exception("outbound_tick_failed")
            self.stop.wait(max(self.settings.worker_poll_seconds, 0.05))

    def start(self) -> None:
        self.poller.start()
        self._thread = threading.Thread(target=self._outbound_loop, name="outbound", daemon=True)
        self._thread.start()
        log.info("partner_services_started", partners=sorted(self.profiles))

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Stop polling and delivering (after the operation in hand); True when all ended."""
        ok = self.poller.shutdown(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
            ok = ok and not self._thread.is_alive()
        return ok


@contextmanager
def partner_services(
    settings: Settings,
    db: Database,
    raw: RawStore,
    *,
    owner: str,
    background: bool,
    profiles: Mapping[str, PartnerProfile] | None = None,
) -> Iterator[PartnerServices | None]:
    """Partner services when enabled profiles exist (else None); stopped on exit.

    ``background``: start the polling and outbound threads (``gateway run``/``worker``);
    without it the caller drives ``poll_once`` and ``tick`` itself (``--once``).
    """
    if profiles is None:
        profiles = configured_partners(settings)
    if not profiles:
        yield None
        return
    services = PartnerServices(settings, db, raw, profiles, owner=owner)
    if background:
        services.start()
    try:
        yield services
    finally:
        services.shutdown()


__all__ = ["PartnerServices", "configured_partners", "make_acceptor", "partner_services"]
