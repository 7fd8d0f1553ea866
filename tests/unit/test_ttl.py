"""TTL policy: how long until a finished SFTJob is deleted (a table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_operator.decide.ttl import seconds_left

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
DONE = {"phase": "Succeeded", "completionTime": "2025-01-01T11:59:00Z"}


@pytest.mark.parametrize(
    ("status", "ttl", "left"),
    [
        (DONE, None, None),  # no TTL: kept
        ({"phase": "Running"}, 60, None),  # not finished
        ({"phase": "Restarting"}, 0, None),
        (DONE, 3600, 3540.0),
        (DONE, 60, 0.0),  # due now
        (DONE, 10, 0.0),  # overdue: now, not negative
        ({**DONE, "phase": "Failed"}, 120, 60.0),
        ({"phase": "Succeeded"}, 30, 30.0),  # no completionTime: counted from now
        (DONE, 0, 0.0),
    ],
)
def test_seconds_left(status: dict[str, Any], ttl: int | None, left: float | None) -> None:
    assert seconds_left(status, ttl, NOW) == left
