"""Deadline policy: spec.activeDeadlineSeconds bounds every attempt together (a table)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sftjob_operator.decide.deadline import remaining_deadline

NOW = datetime(2025, 1, 1, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "started", "attempt", "left"),
    [
        (None, "2025-01-01T00:00:00Z", 2, None),  # no deadline
        (600, "2025-01-01T00:59:00Z", 1, None),  # the first attempt uses the spec's value
        (600, None, 2, None),  # never ran: nothing used up
        (600, "2025-01-01T00:59:00Z", 2, 540),
        (600, "2025-01-01T00:00:00Z", 3, 1),  # used up: the Job fails at once
    ],
)
def test_the_deadline_bounds_all_attempts_together(
    total: int | None, started: str | None, attempt: int, left: int | None
) -> None:
    assert remaining_deadline(total, started, attempt, NOW) == left
