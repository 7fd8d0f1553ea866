"""Stuck-training watchdog: is a running job stalled, and why. Pure.

Two findings, both from what rank 0 reports (status.progress, decide/progress.py):
- LossNotFinite: the last reported loss was NaN or infinite (progress.lossNotFinite).
  Training rarely recovers from that by itself; the condition says so at once.
- NoProgress: spec.watchdog.progressDeadlineSeconds passed without a progress record
  while the job was Running (counted from the newer of the last record and the moment
  the phase became Running, so a restart or a resume starts the clock again). A hung
  collective or a stuck data loader looks like this.

Only a Running job that has not reported its last step is judged: a pending, suspended
or restarting one has no trainer that could report, and after the last step the ranks
save the model (and the straggler grace of status/phase.py watches them). The decision sets the condition Stalled from the finding (or clears it), and
with spec.watchdog.failOnStall the job fails with the finding's reason and its pods stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sftjob_operator.api.spec import Watchdog
from sftjob_operator.status import timeutil
from sftjob_operator.status.phase import RUNNING

LOSS_NOT_FINITE = "LossNotFinite"
NO_PROGRESS = "NoProgress"


@dataclass(frozen=True)
class Stall:
    reason: str
    message: str


def _finished(progress: Mapping[str, Any]) -> bool:
    """The trainer reported its last step: ranks may still be saving, or waited for."""
    return progress.get("percent") == 100.0


def _last_sign(progress: Mapping[str, Any], running_since: datetime | None) -> datetime | None:
    moments = [m for m in (timeutil.parse(progress.get("updatedAt")), running_since) if m]
    return max(moments) if moments else None


def stall(
    policy: Watchdog,
    phase: str,
    progress: Mapping[str, Any],
    running_since: datetime | None,
    now: datetime,
) -> Stall | None:
    """The finding for a job in `phase` with this progress, or None: not stalled.
    `running_since`: when the phase became Running (None: it just did)."""
    if phase != RUNNING or _finished(progress):
        return None
    if value := progress.get("lossNotFinite"):
        step = progress.get("step")
        at = f" at step {step}" if step is not None else ""
        return Stall(LOSS_NOT_FINITE, f"the training loss is {value}{at}; training has diverged")
    deadline = policy.progress_deadline_seconds
    last = _last_sign(progress, running_since)
    if deadline is None or last is None:
        return None
    quiet = (now - last).total_seconds()
    if quiet < deadline:
        return None
    return Stall(
        NO_PROGRESS,
        f"no progress reported for {int(quiet)}s (spec.watchdog.progressDeadlineSeconds: "
        f"{deadline}); last at {timeutil.fmt(last)}",
    )


def recheck_after(
    policy: Watchdog,
    phase: str,
    progress: Mapping[str, Any],
    running_since: datetime | None,
    now: datetime,
) -> float | None:
    """Seconds until NoProgress would be found if nothing is reported meanwhile."""
    deadline = policy.progress_deadline_seconds
    if phase != RUNNING or deadline is None or _finished(progress):
        return None
    last = _last_sign(progress, running_since) or now
    left = deadline - (now - last).total_seconds()
    return left if left > 0 else None
