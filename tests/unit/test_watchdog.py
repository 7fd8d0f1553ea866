"""Stuck-training watchdog: phase, progress, deadline -> Stalled finding or none (a table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_operator.api.spec import Watchdog
from sftjob_operator.decide import watchdog

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
SINCE = datetime(2025, 1, 1, 11, 0, 0, tzinfo=UTC)  # Running for an hour
OFF = Watchdog()
TEN_MINUTES = Watchdog(progress_deadline_seconds=600)
RECENT = {"step": 40, "loss": 1.2, "updatedAt": "2025-01-01T11:55:00Z"}
QUIET = {"step": 40, "loss": 1.2, "updatedAt": "2025-01-01T11:49:00Z"}
NAN = {"step": 41, "lossNotFinite": "nan", "updatedAt": "2025-01-01T11:59:50Z"}


@pytest.mark.parametrize(
    ("policy", "phase", "progress", "since", "reason"),
    [
        (OFF, "Running", RECENT, SINCE, None),
        (OFF, "Running", NAN, SINCE, watchdog.LOSS_NOT_FINITE),  # always watched
        (OFF, "Running", QUIET, SINCE, None),  # no deadline, no NoProgress
        (TEN_MINUTES, "Running", RECENT, SINCE, None),
        (TEN_MINUTES, "Running", QUIET, SINCE, watchdog.NO_PROGRESS),
        (TEN_MINUTES, "Running", {**NAN, "updatedAt": QUIET["updatedAt"]}, SINCE, "LossNotFinite"),
        # No record at all: counted from when the job began Running.
        (TEN_MINUTES, "Running", {}, SINCE, watchdog.NO_PROGRESS),
        (TEN_MINUTES, "Running", {}, datetime(2025, 1, 1, 11, 55, tzinfo=UTC), None),
        # A restart or resume restarts the clock, even with an old record kept.
        (TEN_MINUTES, "Running", QUIET, datetime(2025, 1, 1, 11, 59, tzinfo=UTC), None),
        # Only a running trainer is judged.
        (TEN_MINUTES, "Pending", QUIET, SINCE, None),
        (TEN_MINUTES, "Suspended", {}, SINCE, None),
        (TEN_MINUTES, "Restarting", NAN, SINCE, None),
        (OFF, "Succeeded", NAN, SINCE, None),
        # The last step was reported: saving the model, not stuck.
        (TEN_MINUTES, "Running", {**QUIET, "percent": 100.0}, SINCE, None),
    ],
)
def test_stall(
    policy: Watchdog, phase: str, progress: dict[str, Any], since: datetime, reason: str | None
) -> None:
    found = watchdog.stall(policy, phase, progress, since, NOW)
    assert (found.reason if found else None) == reason


def test_the_findings_say_what_and_since_when() -> None:
    nan = watchdog.stall(OFF, "Running", NAN, SINCE, NOW)
    assert nan is not None and nan.message.startswith("the training loss is nan at step 41")
    quiet = watchdog.stall(TEN_MINUTES, "Running", QUIET, SINCE, NOW)
    assert quiet is not None
    for part in ("660s", "progressDeadlineSeconds: 600", "2025-01-01T11:49:00Z"):
        assert part in quiet.message, part


@pytest.mark.parametrize(
    ("policy", "phase", "progress", "left"),
    [
        (TEN_MINUTES, "Running", RECENT, 300.0),
        (TEN_MINUTES, "Running", QUIET, None),  # already past: found now, no timer
        (OFF, "Running", RECENT, None),
        (TEN_MINUTES, "Pending", RECENT, None),
        (TEN_MINUTES, "Running", {**RECENT, "percent": 100.0}, None),
    ],
)
def test_recheck_after(
    policy: Watchdog, phase: str, progress: dict[str, Any], left: float | None
) -> None:
    assert watchdog.recheck_after(policy, phase, progress, SINCE, NOW) == left
