"""Attempts: which one is current, and which children belong to it.

Each attempt has its own Job (`<job>-a<N>`), labelled with its number, as are its pods.
status.attempt names the current one, unless a newer attempt's Job exists (its status
write was lost): the newest wins, so an attempt is never run twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sftjob_operator.decide.model import Children
from sftjob_operator.status.observe import JobView, PodView


def current_attempt(status: Mapping[str, Any], jobs: Iterable[JobView]) -> int:
    return max([int(status.get("attempt") or 1), *(j.attempt for j in jobs)])


def children_of(
    attempt: int, jobs: Iterable[JobView], pods: Iterable[PodView], assumed: JobView | None = None
) -> Children:
    """The attempt's Job (`assumed`, just created, until the watch delivers it) and pods."""
    job = next((j for j in jobs if j.attempt == attempt), None) or assumed
    return Children(attempt, job, tuple(p for p in pods if p.attempt == attempt))


def older_jobs(attempt: int, jobs: Iterable[JobView]) -> list[JobView]:
    return [j for j in jobs if j.attempt < attempt]
