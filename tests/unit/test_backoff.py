"""Crash-loop backoff: restarts done, how long the attempt ran -> the wait (a table)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sftjob_operator.api.spec import RestartBackoff
from sftjob_operator.decide import backoff

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
DEFAULT = RestartBackoff()  # 10 s doubling to 300 s


@pytest.mark.parametrize(
    ("policy", "restarts", "ran", "seconds"),
    [
        (DEFAULT, 0, 5.0, 10),
        (DEFAULT, 1, 5.0, 20),
        (DEFAULT, 2, 5.0, 40),
        (DEFAULT, 4, 5.0, 160),
        (DEFAULT, 5, 5.0, 300),  # 320 capped
        (DEFAULT, 60, 5.0, 300),  # no overflow, still the cap
        (DEFAULT, 5, None, 300),  # how long it ran unknown: a crash loop
        # An attempt that ran twice the cap was healthy: its failure starts over.
        (DEFAULT, 5, 600.0, 10),
        (DEFAULT, 5, 599.0, 300),
        (RestartBackoff(initial_seconds=0), 3, 1.0, 0),  # backoff off
        (RestartBackoff(initial_seconds=1, max_seconds=4), 9, 1.0, 4),
        # A cap below the start is read as the start (the schema cannot compare the two).
        (RestartBackoff(initial_seconds=30, max_seconds=5), 2, 1.0, 30),
    ],
)
def test_delay_seconds(
    policy: RestartBackoff, restarts: int, ran: float | None, seconds: int
) -> None:
    assert backoff.delay_seconds(policy, restarts, ran) == seconds


@pytest.mark.parametrize(
    ("failed_at", "started_at", "restarts", "until", "left"),
    [
        # Counted from the failure the cluster recorded, not from now.
        ("2025-01-01T11:59:55Z", "2025-01-01T11:59:50Z", 1, "2025-01-01T12:00:15Z", 15.0),
        ("2025-01-01T11:59:00Z", "2025-01-01T11:58:58Z", 0, "2025-01-01T11:59:10Z", -50.0),
        # No failure time: from the attempt's start, which is as stable.
        (None, "2025-01-01T11:59:58Z", 0, "2025-01-01T12:00:08Z", 8.0),
    ],
)
def test_hold(
    failed_at: str | None, started_at: str, restarts: int, until: str, left: float
) -> None:
    hold = backoff.hold(DEFAULT, restarts, failed_at, started_at, NOW)
    assert hold is not None
    assert (hold.until, hold.left, hold.waiting) == (
        datetime.fromisoformat(until.replace("Z", "+00:00")),
        left,
        left > 0,
    )


def test_no_hold_without_any_time_or_with_backoff_off() -> None:
    assert backoff.hold(DEFAULT, 0, None, None, NOW) is None
    off = RestartBackoff(initial_seconds=0)
    assert backoff.hold(off, 3, "2025-01-01T11:59:59Z", "2025-01-01T11:59:50Z", NOW) is None
