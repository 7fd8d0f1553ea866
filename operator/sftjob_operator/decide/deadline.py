"""Deadline policy: spec.activeDeadlineSeconds bounds the whole SFTJob, restarts included.

Each attempt's Job carries the deadline, so the Job controller enforces it and reports
DeadlineExceeded, which ends the SFTJob (restart.py does not restart it). A later attempt's
Job gets what is left, counted from the SFTJob's startTime.
"""

from __future__ import annotations

from datetime import datetime

from sftjob_operator.status import timeutil


def remaining_deadline(
    total: int | None, started: str | None, attempt: int, now: datetime
) -> int | None:
    """What is left of the deadline for `attempt` (at least 1s, so an exhausted deadline
    fails its Job at once as DeadlineExceeded). None: use the spec's value as it is."""
    start = timeutil.parse(started)
    if total is None or attempt <= 1 or start is None:
        return None
    return max(total - int((now - start).total_seconds()), 1)
