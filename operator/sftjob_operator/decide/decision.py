"""The decision: what is observed of one SFTJob -> its next status, actions and events. Pure.

Modelled on JobSet's controller: the executor (reconcile.py) observes, calls `decide`,
writes `Decision.patch` once, posts `Decision.events`, then applies `Decision.actions`.
Each rule lives in its policy module: the phase (status/phase.py), restarts (restart.py),
the progress channel (progress.py), refusals (setup.py), TTL (ttl.py), the deadline
(deadline.py), suspension and stopping (suspend.py). Preemption, backoff between attempts
and a Stalled condition are further steps between the phase and the status, like restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sftjob_operator.decide import progress as progress_policy
from sftjob_operator.decide import queue, restart, suspend, ttl
from sftjob_operator.decide.model import (
    Action,
    BeginAttempt,
    Children,
    Decision,
    DeleteSftJob,
    Observation,
    Setup,
    SetWorkloadActive,
    StopJob,
)
from sftjob_operator.status import conditions as cond
from sftjob_operator.status import phase, timeutil
from sftjob_operator.status.phase import FINAL_PHASES, Derived, Policy
from sftjob_operator.status.update import Event, next_status, transition_events, with_condition

# The status keys the lifecycle owns; progress.STATUS_KEYS are the progress channel's, and
# kopf's own bookkeeping is left alone.
OWNED_STATUS_KEYS = (
    "phase",
    "message",
    "conditions",
    "observedGeneration",
    "startTime",
    "completionTime",
    "attempt",
    "restarts",
    "outputDir",
)


DEFAULT_POLICY = Policy()


def decide(
    seen: Observation, now: datetime, policy: Policy = DEFAULT_POLICY, setup: Setup | None = None
) -> Decision:
    current = seen.status
    children = seen.children
    held = progress_policy.accept(
        seen.progress, seen.record, children.attempt, seen.attempt_started
    )
    refusal = setup.refusal if setup else None
    derived = refusal or _queue_phase(seen, now) or phase.derive(_phase_inputs(seen), now, policy)
    step = restart.Step(derived, children.attempt, int(current.get("restarts") or 0))
    took_pending = False
    if refusal is None and current.get("phase") not in FINAL_PHASES:
        if seen.pending and _attempt_ended(derived, children):
            # The newest record first: it may name a newer checkpoint, or 100%.
            held = progress_policy.accept(
                held, seen.pending, children.attempt, seen.attempt_started
            )
            took_pending = True
        attempt = _attempt(seen, step.restarts, held)
        step = restart.step(attempt, derived, current.get("phase"), current.get("message"))
        if step.restarted:
            held = progress_policy.for_new_attempt(held)
    status = _next_status(seen, step, now, setup)
    patch = _patch(current, status, seen.progress, held)
    return Decision(
        status=status,
        progress=held,
        patch=patch,
        actions=_actions(seen, step, status, now),
        events=_events(current, status, setup) if patch else (),
        recheck_after=_recheck_after(seen, step.derived, status, now),
        took_pending=took_pending,
    )


def _queue_phase(seen: Observation, now: datetime) -> Derived | None:
    if seen.create_error:
        return None
    return queue.derive(
        seen.sftjob.queue, seen.children.job, seen.workload, seen.sftjob.spec.suspend, now
    )


def _phase_inputs(seen: Observation) -> phase.Observed:
    return phase.Observed(
        nodes=seen.sftjob.spec.nodes,
        job=seen.children.job,
        pods=seen.children.pods,
        user_suspended=seen.sftjob.spec.suspend,
        create_error=seen.create_error,
    )


def _attempt_ended(derived: Derived, children: Children) -> bool:
    return derived.phase in FINAL_PHASES or bool(restart.failure(children.job, children.pods))


def _attempt(seen: Observation, restarts: int, held: Mapping[str, Any]) -> restart.Attempt:
    return restart.Attempt(
        number=seen.children.attempt,
        job=seen.children.job,
        pods=seen.children.pods,
        restarts=restarts,
        backoff_limit=seen.sftjob.spec.backoff_limit,
        last_checkpoint=held.get("lastCheckpoint"),
    )


def _next_status(
    seen: Observation, step: restart.Step, now: datetime, setup: Setup | None
) -> dict[str, Any]:
    stamp = timeutil.fmt(now)
    generation = seen.sftjob.generation
    status = next_status(
        seen.status, step.derived, now=stamp, generation=generation, attempt=step.attempt
    )
    status["restarts"] = step.restarts
    for c in setup.conditions if setup else ():
        status = with_condition(
            status, c.type, c.ok, c.reason, c.message, now=stamp, generation=generation
        )
    if setup and setup.output_dir is not None:
        status["outputDir"] = setup.output_dir
    admitted = queue.admitted_condition(
        seen.sftjob.queue, seen.children.job, step.derived, seen.sftjob.spec.suspend
    )
    if admitted and status.get("phase") not in FINAL_PHASES:
        status = with_condition(
            status,
            admitted.type,
            admitted.ok,
            admitted.reason,
            admitted.message,
            now=stamp,
            generation=generation,
        )
    return status


def _patch(
    current: Mapping[str, Any],
    status: Mapping[str, Any],
    progress_before: Mapping[str, Any],
    progress_after: Mapping[str, Any],
) -> dict[str, Any]:
    """The status write: every owned key when the lifecycle changed, and what progress
    changed; {} when neither did."""
    owned = {k: status[k] for k in OWNED_STATUS_KEYS if k in status} if status != current else {}
    return {**owned, **progress_policy.patch(progress_before, progress_after)}


def _events(
    current: Mapping[str, Any], status: Mapping[str, Any], setup: Setup | None
) -> tuple[Event, ...]:
    events = transition_events(current, status)
    if setup and cond.get(current.get("conditions") or (), cond.CONFIG_NORMALIZED) is None:
        translated = [Event("Warning", "ConfigTranslated", m) for m in setup.translations]
        events = [*translated, *events]
    return tuple(events)


def _actions(
    seen: Observation, step: restart.Step, status: Mapping[str, Any], now: datetime
) -> tuple[Action, ...]:
    actions: list[Action] = []
    job = seen.children.job
    if job is not None and suspend.must_stop(status, job):
        actions.append(StopJob(job.name))
    if step.restarted:
        actions.append(BeginAttempt(step.attempt, job.name if job else None))
    if ttl.seconds_left(status, seen.sftjob.spec.ttl_seconds_after_finished, now) == 0:
        actions.append(DeleteSftJob())
    active = queue.workload_active(seen.sftjob.spec.suspend, seen.workload)
    if seen.workload is not None and active is not None and not step.restarted:
        actions.append(SetWorkloadActive(seen.workload.name, active))
    return tuple(actions)


def _recheck_after(
    seen: Observation, derived: Derived, status: Mapping[str, Any], now: datetime
) -> float | None:
    left = ttl.seconds_left(status, seen.sftjob.spec.ttl_seconds_after_finished, now)
    return derived.recheck_after if left is None else left or None
