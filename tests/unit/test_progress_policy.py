"""Progress policy: which records reach status, and the merge patch that writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_operator.decide import progress as policy
from sftjob_operator.status.progress import Record

STARTED = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
BEFORE = datetime(2025, 1, 1, 11, 0, 0, tzinfo=UTC)
AFTER = datetime(2025, 1, 1, 12, 5, 0, tzinfo=UTC)


def record(when: datetime, step: int = 5, checkpoint: str | None = None) -> Record:
    return Record("progress", when, step, 10, {"loss": 1.0}, last_checkpoint=checkpoint)


HELD = {
    "progress": {"step": 2, "maxSteps": 10, "etaSeconds": 9.0},
    "lastCheckpoint": "checkpoint-2",
}


@pytest.mark.parametrize(
    ("rec", "attempt", "started", "step", "checkpoint"),
    [
        (None, 1, None, 2, "checkpoint-2"),  # nothing new
        (record(AFTER), 1, None, 5, "checkpoint-2"),  # attempt 1 needs no start time
        (record(AFTER, checkpoint="checkpoint-5"), 2, STARTED, 5, "checkpoint-5"),
        (record(BEFORE), 2, STARTED, 2, "checkpoint-2"),  # an earlier attempt's record
        (record(AFTER), 2, None, 2, "checkpoint-2"),  # attempt 2 not started yet
    ],
)
def test_accept(
    rec: Record | None, attempt: int, started: datetime | None, step: int, checkpoint: str
) -> None:
    held = policy.accept(HELD, rec, attempt, started)
    assert (held["progress"]["step"], held["lastCheckpoint"]) == (step, checkpoint)


def test_a_new_attempt_keeps_the_goal_and_the_plot() -> None:
    held = {**HELD, "progress": {**HELD["progress"], "lossHistory": [{"step": 1, "loss": 2.0}]}}
    fresh = policy.for_new_attempt(held)
    assert fresh["progress"] == {"maxSteps": 10, "lossHistory": [{"step": 1, "loss": 2.0}]}
    assert fresh["lastCheckpoint"] == "checkpoint-2"


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({}, {}, {}),
        (HELD, HELD, {}),
        ({}, HELD, HELD),
        (
            HELD,
            {"progress": {"step": 3, "maxSteps": 10}, "lastCheckpoint": "checkpoint-2"},
            {"progress": {"etaSeconds": None, "step": 3, "maxSteps": 10}},  # dropped: null
        ),
        (HELD, {**HELD, "lastCheckpoint": None}, {}),  # a checkpoint is never unset
    ],
)
def test_patch(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert policy.patch(old, new) == patch


def test_from_status_takes_only_the_progress_keys() -> None:
    assert policy.from_status({"phase": "Running", **HELD}) == HELD
