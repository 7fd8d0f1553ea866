"""Health policy: a job's phase and its reason -> Ready, Reconciling and Stalled. Pure.

These are the conditions kstatus (sigs.k8s.io/cli-utils/pkg/kstatus) reads, and with it
Flux, `kubectl wait --for=condition=Ready` and other GitOps tools. kstatus decides a
custom resource's status in this order: status.observedGeneration behind
metadata.generation -> InProgress; Reconciling True -> InProgress; Stalled True ->
Failed; then Ready True -> Current, Ready False -> InProgress. Reconciling and Stalled
are "abnormal-true": True only while the abnormal situation holds, and never both at once
(kstatus would read Reconciling first).

- Ready is True once the job Succeeded, and False with the phase's reason until then.
- Stalled is True when the job cannot progress unless someone changes something: every
  Failed phase (an invalid spec, storage the nodes cannot share, the backoff limit, the
  deadline, an image that cannot be pulled), a reason of STALL_REASONS that has held
  past its grace, and a finding of the training watchdog (decide/watchdog.py: a loss that
  is not a number, no progress past the deadline), with the finding's reason (the job
  keeps its phase; the situation may still clear).
- Reconciling is True while work is in flight (Pending, Running, Restarting) and the job
  has not stalled.
- Suspended (spec.suspend), Queued and Preempted (Kueue's) are neither: they wait for a
  person or for admission, which is not a failure. kstatus reads them as InProgress (Ready
  False).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sftjob_operator.decide.model import Condition
from sftjob_operator.status import conditions as cond
from sftjob_operator.status import timeutil
from sftjob_operator.status.phase import (
    CLAIM_NOT_FOUND,
    CREATE_FAILED,
    FAILED,
    PENDING,
    POD_CREATE_FAILED,
    RESTARTING,
    RUNNING,
    SUCCEEDED,
    Policy,
)

IN_FLIGHT_PHASES = frozenset({PENDING, RUNNING, RESTARTING})


def at_once(policy: Policy) -> float:
    """The grace of a reason that stalls the job as soon as it appears."""
    return 0.0


def _unschedulable_grace(policy: Policy) -> float:
    return float(policy.unschedulable_grace_seconds)


# The phase reasons that stall a job which has not finished, each with how long it must
# hold first (`Derived.since` says since when). A new stall rule (a crash loop, a training
# watchdog) adds its reason here, with `at_once` or a grace from the Policy. Waiting
# states (queued, suspended) never belong here.
STALL_REASONS: Mapping[str, Callable[[Policy], float]] = {
    "Unschedulable": _unschedulable_grace,
    POD_CREATE_FAILED: _unschedulable_grace,
    CREATE_FAILED: _unschedulable_grace,
    CLAIM_NOT_FOUND: _unschedulable_grace,
}


@dataclass(frozen=True)
class Finding:
    """Another policy's finding that the job is stuck (the training watchdog's)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Facts:
    """What the health of a job is decided from: the status as it is to be written."""

    phase: str
    reason: str
    message: str
    since: str | None = None  # when the situation behind `reason` began
    finding: Finding | None = None  # stalls a job in flight at once, with its own reason


@dataclass(frozen=True)
class Health:
    ready: Condition
    reconciling: Condition
    stalled: Condition
    recheck_after: float | None = None  # seconds until a graced stall may begin

    @property
    def conditions(self) -> tuple[Condition, Condition, Condition]:
        return (self.ready, self.reconciling, self.stalled)


def assess(facts: Facts, now: datetime, policy: Policy) -> Health:
    stalled, recheck_after = _stalled(facts, now, policy)
    reconciling = facts.phase in IN_FLIGHT_PHASES and not stalled
    found = facts.finding if facts.phase in IN_FLIGHT_PHASES else None
    # Every condition carries the phase's reason and message: the why of True and False;
    # Stalled, a finding's when there is one.
    why = (found.reason, found.message) if found else (facts.reason, facts.message)
    return Health(
        ready=Condition(cond.READY, facts.phase == SUCCEEDED, facts.reason, facts.message),
        reconciling=Condition(cond.RECONCILING, reconciling, facts.reason, facts.message),
        stalled=Condition(cond.STALLED, stalled, *why),
        recheck_after=recheck_after,
    )


def unobserved(status: Mapping[str, Any], generation: int | None) -> bool:
    """The status has not observed this generation of the spec: it must be written again,
    even when nothing else changed (e.g. an edit of `env` after the job finished)."""
    return generation is not None and status.get("observedGeneration") != generation


def _stalled(facts: Facts, now: datetime, policy: Policy) -> tuple[bool, float | None]:
    """Whether the job has stalled, and else in how many seconds it may."""
    if facts.phase == FAILED:
        return True, None
    if facts.finding is not None and facts.phase in IN_FLIGHT_PHASES:
        return True, None
    grace = STALL_REASONS.get(facts.reason)
    if facts.phase not in IN_FLIGHT_PHASES or grace is None:
        return False, None
    seconds = grace(policy)
    if seconds <= 0:
        return True, None
    since = timeutil.parse(facts.since)
    if since is None:  # since when is unknown: never stalled on a guess
        return False, None
    left = seconds - (now - since).total_seconds()
    return (True, None) if left <= 0 else (False, left)
