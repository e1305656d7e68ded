"""Bounded, jittered retries of transient SFTP failures (tenacity), and failure records for
operators (ids and reasons, never file contents)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import tenacity

from gateway.errors import GatewayError, TransientError
from gateway.logging import get_logger
from gateway.sftp.errors import AuthError, HostKeyError, PollCancelledError
from mappings.partners import PartnerProfile

log = get_logger("gateway.sftp")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """One failed operation, kept for operators (ids and reasons, never file contents)."""

    partner_id: str
    operation: str
    code: str
    reason: str
    remote_path: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class FailureSink(Protocol):
    def record_failure(self, failure: FailureRecord) -> None: ...


def _log_retry(
    profile: PartnerProfile, operation: str
) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "sftp_retry",
            partner=profile.id,
            operation=operation,
            attempt=state.attempt_number,
            sleep_seconds=round(state.next_action.sleep, 3) if state.next_action else None,
            code=getattr(exc, "code", None),
            reason=str(exc),
        )

    return before_sleep


def sleeper(stop: threading.Event | None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if stop is None:
            time.sleep(seconds)
        elif stop.wait(seconds):
            raise PollCancelledError()

    return sleep


def with_retry(
    profile: PartnerProfile,
    operation: str,
    fn: Callable[[], T],
    *,
    failures: FailureSink | None,
    stop: threading.Event | None = None,
    remote_path: str | None = None,
) -> T:
    """Run ``fn`` retrying only ``TransientError`` (bounded, exponential, jittered).

    Whatever finally fails is logged and written as a failure record, then re-raised.
    Host-key and authentication failures are alert-level: an operator must act.
    """
    policy = profile.retry
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=tenacity.stop_after_attempt(policy.attempts),
        # initial·2^(n-1) capped at max, plus up to jitter: spreads reconnects after an outage.
        wait=(
            tenacity.wait_exponential(multiplier=policy.initial_seconds, max=policy.max_seconds)
            + tenacity.wait_random(0, policy.jitter_seconds)
        ),
        before_sleep=_log_retry(profile, operation),
        sleep=sleeper(stop),
        reraise=True,
    )
    try:
        return retrying(fn)
    except PollCancelledError:
        raise
    except GatewayError as exc:
        report_failure(profile, operation, exc, failures=failures, remote_path=remote_path)
        raise


def report_failure(
    profile: PartnerProfile,
    operation: str,
    exc: GatewayError,
    *,
    failures: FailureSink | None,
    remote_path: str | None = None,
) -> FailureRecord:
    path = remote_path or str(exc.location.get("remote_path") or "") or None
    record = FailureRecord(
        partner_id=profile.id,
        operation=operation,
        code=exc.code,
        reason=exc.message,
        remote_path=path,
    )
    if isinstance(exc, HostKeyError | AuthError):
        log.critical(
            "sftp_partner_refused",
            alert=True,
            partner=profile.id,
            code=exc.code,
            reason=exc.message,
            operation=operation,
        )
    else:
        log.error(
            "sftp_operation_failed",
            partner=profile.id,
            code=exc.code,
            reason=exc.message,
            operation=operation,
            remote_path=path,
        )
    if failures is not None:
        failures.record_failure(record)
    return record
