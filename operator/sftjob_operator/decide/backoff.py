"""Crash-loop backoff: how long a failed attempt waits before the next one starts. Pure.

The wait doubles with each restart already done (spec.restartBackoff.initialSeconds,
2x, 4x, ...) up to maxSeconds, like the Job controller's and the kubelet's pod backoffs.
An attempt that ran for longer than twice the cap before it failed was no crash loop: it
waits only initialSeconds, so a job that fails once a day does not wait the cap each time.

The wait counts from when the attempt failed as the cluster recorded it (the failed pod's
finish, or the Job's failure condition), never from when the operator noticed, so every
reconcile (and a restarted operator) computes the same start time and the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sftjob_operator.api.spec import RestartBackoff
from sftjob_operator.status import timeutil

# An attempt that ran this many caps long was healthy: its failure restarts the count.
HEALTHY_RUN_CAPS = 2


@dataclass(frozen=True)
class Hold:
    """The next attempt starts at `until`, `seconds` after the failure."""

    until: datetime
    seconds: int
    left: float  # seconds from now; <= 0: start it now

    @property
    def waiting(self) -> bool:
        return self.left > 0


def delay_seconds(backoff: RestartBackoff, restarts_done: int, ran_seconds: float | None) -> int:
    """The wait before restart number `restarts_done + 1`."""
    initial = max(backoff.initial_seconds, 0)
    cap = max(backoff.max_seconds, initial)
    if initial == 0:
        return 0
    if ran_seconds is not None and ran_seconds >= HEALTHY_RUN_CAPS * cap:
        return initial
    # 2**n grows fast; stop doubling once past the cap.
    delay = initial
    for _ in range(restarts_done):
        if delay >= cap:
            break
        delay *= 2
    return min(delay, cap)


def hold(
    backoff: RestartBackoff,
    restarts_done: int,
    failed_at: str | None,
    started_at: str | None,
    now: datetime,
) -> Hold | None:
    """When the next attempt may start; None when no wait applies (backoff off, or the
    failure time unknown, when waiting from `now` would never end)."""
    failed = timeutil.parse(failed_at) or timeutil.parse(started_at)
    if failed is None:
        return None
    started = timeutil.parse(started_at)
    ran = (failed - started).total_seconds() if started else None
    seconds = delay_seconds(backoff, restarts_done, ran)
    if seconds == 0:
        return None
    until = failed + timedelta(seconds=seconds)
    return Hold(until=until, seconds=seconds, left=(until - now).total_seconds())
