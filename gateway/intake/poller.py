"""Poll several SFTP partners concurrently: one thread per partner, each with its own backoff.

A partner whose server is down only delays itself: its thread sleeps in its own retry and
backoff waits (interruptible by ``stop``) while the other threads keep pulling. A poll that ends
in failure doubles that partner's next delay (with jitter) up to ``max_backoff_seconds``; a good
poll resets it to the profile's ``poll_interval_seconds``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from gateway.errors import GatewayError
from gateway.intake.sftp import (
    Acceptor,
    FailureSink,
    PollResult,
    PulledFile,
    StabilityTracker,
    poll_partner,
    report_failure,
)
from gateway.logging import get_logger
from gateway.outbound.deliver import deliver_file
from gateway.outbound.ledger import DeliveryLedger
from mappings.partners import PartnerProfile

log = get_logger("gateway.poller")


class AckSource(Protocol):
    """Renders the acknowledgments (TA1/999) owed for a pulled file; returns local paths."""

    def __call__(self, profile: PartnerProfile, pulled: PulledFile) -> Sequence[Path]: ...


class PartnerPoller:
    def __init__(self, profiles: Sequence[PartnerProfile], acceptor: Acceptor, *,
                 staging_dir: Path, failures: FailureSink | None = None,
                 environ: Mapping[str, str] | None = None, acks: AckSource | None = None,
                 ledger: DeliveryLedger | None = None, max_backoff_seconds: float = 3600.0,
                 on_result: Callable[[PollResult], None] | None = None) -> None:
        ids = [p.id for p in profiles]
        if len(set(ids)) != len(ids):
            raise ValueError("partner ids must be unique")
        if acks is not None and ledger is None:
            raise ValueError("acknowledgments are delivered through a ledger; give one")
        self.profiles = [p for p in profiles if p.inbox_dir is not None]
        self.acceptor = acceptor
        self.staging_dir = staging_dir
        self.failures = failures
        self.environ = environ
        self.acks = acks
        self.ledger = ledger
        self.max_backoff_seconds = max_backoff_seconds
        self.on_result = on_result
        self.stop = threading.Event()
        self._trackers = {p.id: StabilityTracker(p.stable_seconds, p.min_age_seconds)
                          for p in self.profiles}
        self._threads: list[threading.Thread] = []

    def poll_one(self, profile: PartnerProfile) -> PollResult:
        """One poll of one partner, acknowledgments included; never raises for remote trouble."""
        try:
            result = poll_partner(profile, self.acceptor,
                                  staging_dir=self.staging_dir / profile.id,
                                  failures=self.failures, tracker=self._trackers[profile.id],
                                  environ=self.environ, stop=self.stop)
        except Exception as exc:  # a bug or local failure must not kill the partner's loop
            log.exception("sftp_poll_crashed", partner=profile.id)
            result = PollResult(profile.id, error=getattr(exc, "code", type(exc).__name__))
        if self.acks is not None and profile.send_acks and not self.stop.is_set():
            self._send_acks(profile, result)
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _send_acks(self, profile: PartnerProfile, result: PollResult) -> None:
        assert self.acks is not None
        assert self.ledger is not None
        for pulled in result.pulled:
            for path in self.acks(profile, pulled):
                try:
                    deliver_file(profile, path, ledger=self.ledger, failures=self.failures,
                                 remote_dir=profile.ack_dir, environ=self.environ,
                                 stop=self.stop)
                except GatewayError as exc:
                    # with_retry has already recorded remote failures; local ones are here.
                    if exc.code not in {f.code for f in result.failures}:
                        result.failures.append(report_failure(
                            profile, "send_ack", exc, failures=None, remote_path=path.name))

    def poll_once(self, max_workers: int | None = None) -> list[PollResult]:
        """Poll every partner once, concurrently; results in profile order."""
        if not self.profiles:
            return []
        workers = max_workers or len(self.profiles)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sftp-poll") as pool:
            return list(pool.map(self.poll_one, self.profiles))

    def _next_delay(self, profile: PartnerProfile, failed_in_row: int) -> float:
        base = profile.poll_interval_seconds
        if failed_in_row == 0:
            return base
        delay = min(base * float(2 ** min(failed_in_row, 16)), self.max_backoff_seconds)
        return delay * random.uniform(0.8, 1.2)

    def _loop(self, profile: PartnerProfile) -> None:
        failed = 0
        while not self.stop.is_set():
            result = self.poll_one(profile)
            failed = 0 if result.error is None else failed + 1
            if self.stop.wait(self._next_delay(profile, failed)):
                break

    def start(self) -> None:
        """A thread per partner, until ``stop`` is set."""
        for profile in self.profiles:
            t = threading.Thread(target=self._loop, args=(profile,),
                                 name=f"sftp-poll-{profile.id}", daemon=True)
            t.start()
            self._threads.append(t)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Ask every loop to stop and wait; True when all threads ended in time."""
        self.stop.set()
        for t in self._threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self._threads)


__all__ = ["AckSource", "PartnerPoller"]
