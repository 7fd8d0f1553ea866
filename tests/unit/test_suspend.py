"""Suspension policy: the Job follows spec.suspend; a finished SFTJob keeps no running pods."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.decide.suspend import mirrored, must_stop
from sftjob_operator.status.observe import JobView

RUNNING = {"phase": "Running"}
DONE = {"phase": "Succeeded"}


def job(suspended: bool = False, active: int = 1, **conds: str) -> JobView:
    return JobView(
        name="j-a1",
        attempt=1,
        suspended=suspended,
        active=active,
        conditions={t: ("True", "", "") for t in conds},
    )


@pytest.mark.parametrize(
    ("status", "job_", "suspend", "queued", "desired"),
    [
        (RUNNING, job(), True, False, True),  # the user suspends
        (RUNNING, job(suspended=True), False, False, False),  # and resumes
        (RUNNING, job(suspended=True), True, False, None),  # already so
        (RUNNING, job(suspended=True), False, True, None),  # Kueue admits it, not us
        # Kueue would unsuspend it: spec.suspend deactivates the Workload (decide/queue.py)
        (RUNNING, job(), True, True, None),
        (DONE, job(), True, False, None),  # finished: left alone
        (RUNNING, job(Complete="x"), True, False, None),
    ],
)
def test_mirrored(
    status: dict[str, Any], job_: JobView, suspend: bool, queued: bool, desired: bool | None
) -> None:
    assert mirrored(status, job_, suspend, queued) is desired


@pytest.mark.parametrize(
    ("status", "job_", "stop"),
    [
        (DONE, job(), True),  # pods still active after the SFTJob finished
        ({"phase": "Failed"}, job(), True),
        (RUNNING, job(), False),
        (DONE, job(active=0), False),
        (DONE, job(suspended=True), False),
        (DONE, job(Failed="x"), False),  # the Job controller stops its own pods
        (DONE, job(SuccessCriteriaMet="x"), False),
    ],
)
def test_must_stop(status: dict[str, Any], job_: JobView, stop: bool) -> None:
    assert must_stop(status, job_) is stop
