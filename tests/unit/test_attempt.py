"""Attempts: the current one, its children, and the older Jobs to delete (a table)."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.decide.attempt import children_of, current_attempt, older_jobs
from sftjob_operator.status.observe import JobView, PodView


def job(attempt: int) -> JobView:
    return JobView(name=f"j-a{attempt}", attempt=attempt, suspended=False)


def pod(attempt: int) -> PodView:
    return PodView(name=f"j-a{attempt}-0-x", index=0, phase="Running", attempt=attempt)


@pytest.mark.parametrize(
    ("status", "jobs", "attempt"),
    [
        ({}, [], 1),
        ({"attempt": 2}, [job(1)], 2),  # the status names the next attempt first
        ({"attempt": 1}, [job(1), job(2)], 2),  # the status write was lost: the Job says so
        ({"attempt": None}, [], 1),
    ],
)
def test_current_attempt(status: dict[str, Any], jobs: list[JobView], attempt: int) -> None:
    assert current_attempt(status, jobs) == attempt


def test_children_of_an_attempt() -> None:
    seen = children_of(2, [job(1), job(2)], [pod(1), pod(2)])
    assert (seen.job, seen.pods) == (job(2), (pod(2),))


def test_a_job_just_created_is_assumed_until_the_watch_delivers_it() -> None:
    assert children_of(1, [], [], assumed=job(1)).job == job(1)
    assert children_of(1, [job(1)], [], assumed=job(9)).job == job(1)


def test_older_jobs() -> None:
    assert older_jobs(3, [job(1), job(2), job(3)]) == [job(1), job(2)]
