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

from gateway.intake.pull import AcceptedHook, Acceptor, PollResult, poll_partner
from gateway.intake.remote_inbox import StabilityTracker
from gateway.logging import get_logger
from gateway.sftp import FailureSink
from mappings.partners import PartnerProfile

log = get_logger("gateway.poller")


class PartnerPoller:
    """Polls every profile with an ``inbox_dir``: ``poll_once`` for one round, or ``start``
    for a thread per partner until ``shutdown``.

    ``on_accepted`` runs for each pulled file once it is durable and before the remote archive
    move (the gateway notes the acknowledgments owed there); acknowledgments themselves go out
    through the outbound queue, like every other delivery.
    """

    def __init__(
        self,
        profiles: Sequence[PartnerProfile],
        acceptor: Acceptor,
        *,
        failures: FailureSink | None = None,
        environ: Mapping[str, str] | None = None,
        on_accepted: AcceptedHook | None = None,
        max_backoff_seconds: float = 3600.0,
        on_result: Callable[[PollResult], None] | None = None,
    ) -> None:
        ids = [p.id for p in profiles]
        if len(set(ids)) != len(ids):
            raise ValueError("partner ids must be unique")
        self.profiles = [p for p in profiles if p.inbox_dir is not None]
        self.acceptor = acceptor
        self.failures = failures
        self.environ = environ
        self.on_accepted = on_accepted
        self.max_backoff_seconds = max_backoff_seconds
        self.on_result = on_result
        self.stop = threading.Event()
        self._trackers = {
            p.id: StabilityTracker(p.stable_seconds, p.min_age_seconds) for p in self.profiles
        }
        self._threads: list[threading.Thread] = []

    def poll_one(self, profile: PartnerProfile) -> PollResult:
        """One poll of one partner; never raises for remote trouble."""
        try:
            result = poll_partner(
                profile,
                self.acceptor,
                failures=self.failures,
                tracker=self._trackers[profile.id],
                environ=self.environ,
                stop=self.stop,
                on_accepted=self.on_accepted,
            )
        except Exception as exc:  # a bug or local failure must not kill the partner's loop
            log.exception("sftp_poll_crashed", partner=profile.id)
            result = PollResult(profile.id, error=getattr(exc, "code", type(exc).__name__))
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:
                log.exception("sftp_poll_result_hook_failed", partner=profile.id)
        return result

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
            t = threading.Thread(
                target=self._loop, args=(profile,), name=f"sftp-poll-{profile.id}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Ask every loop to stop and wait; True when all threads ended in time."""
        self.stop.set()
        for t in self._threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self._threads)


__all__ = ["PartnerPoller"]
