"""What the decision reads (an Observation) and what it returns (a Decision, with actions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sftjob_operator.status.observe import JobView, PodView, RefusedPod, WorkloadView
from sftjob_operator.status.phase import Derived, NotCreated
from sftjob_operator.status.progress import Record
from sftjob_operator.status.update import Event
from sftjob_operator.views import SftView


@dataclass(frozen=True)
class Children:
    """The current attempt and its observed Job and pods."""

    attempt: int
    job: JobView | None
    pods: tuple[PodView, ...] = ()


@dataclass(frozen=True)
class Condition:
    type: str
    ok: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Setup:
    """What ensuring an attempt's children found (setup.py): the conditions it sets, and a
    refusal that ends the SFTJob instead of the phase the children would give, or why the
    children wait (`waiting`: the operator tries again)."""

    conditions: tuple[Condition, ...] = ()
    refusal: Derived | None = None
    waiting: NotCreated | None = None
    output_dir: str | None = None
    # Messages of the names translated from older TRL, posted once as Warning Events.
    translations: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    sftjob: SftView
    # The status as this operator last wrote it (the server's until it has written).
    status: Mapping[str, Any]
    children: Children
    # status.progress and status.lastCheckpoint as last accepted.
    progress: Mapping[str, Any]
    # When the current attempt began (its Job's creation), for telling its records apart.
    attempt_started: datetime | None = None
    not_created: NotCreated | None = None
    record: Record | None = None  # a progress record to write now
    pending: Record | None = None  # the newest record not yet written
    # Kueue's Workload of the current attempt's Job, read while Kueue may hold it.
    workload: WorkloadView | None = None
    # Why the Job controller cannot create the current Job's pods, read while pods are missing.
    refused: RefusedPod | None = None


@dataclass(frozen=True)
class StopJob:
    """Suspend the Job, so the pods a finished SFTJob keeps running stop."""

    job: str


@dataclass(frozen=True)
class BeginAttempt:
    """Replace the failed attempt's Job with attempt `attempt` (the status already says so)."""

    attempt: int
    failed_job: str | None


@dataclass(frozen=True)
class DeleteSftJob:
    """Its ttlSecondsAfterFinished has passed."""


@dataclass(frozen=True)
class SetWorkloadActive:
    """Set the Kueue Workload's spec.active (spec.suspend of a queued SFTJob)."""

    workload: str
    active: bool


Action = StopJob | BeginAttempt | DeleteSftJob | SetWorkloadActive


@dataclass(frozen=True)
class Decision:
    status: dict[str, Any]  # the lifecycle keys, as they are to be
    progress: dict[str, Any]  # status.progress and status.lastCheckpoint, as they are to be
    patch: dict[str, Any]  # the one status write of this reconcile; {}: nothing to write
    actions: tuple[Action, ...] = ()  # applied after the write
    events: tuple[Event, ...] = ()  # posted after the write
    recheck_after: float | None = None  # seconds; a time-based rule may fire then
    took_pending: bool = False  # `pending` is written with this decision
