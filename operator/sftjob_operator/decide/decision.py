"""The decision: what is observed of one SFTJob -> its next status, actions and events. Pure.

Modelled on JobSet's controller: the executor (reconcile.py) observes, calls `decide`,
writes `Decision.patch` once, posts `Decision.events`, then applies `Decision.actions`.
Each rule lives in its policy module: the phase (status/phase.py), restarts (restart.py)
and their crash-loop backoff (backoff.py), the progress channel (progress.py), the
stuck-training watchdog (watchdog.py), refusals (setup.py), TTL (ttl.py), the deadline
(deadline.py), suspension and stopping (suspend.py), and the kstatus conditions Ready,
Reconciling and Stalled of the status to be written (health.py), which a watchdog finding
stalls. Preemption is a further step between the phase and the status, like restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sftjob_operator.decide import (
    backoff,
    health,
    queue,
    restart,
    storage,
    suspend,
    ttl,
    watchdog,
)
from sftjob_operator.decide import progress as progress_policy
from sftjob_operator.decide.model import (
    Action,
    BeginAttempt,
    Children,
    Condition,
    Decision,
    DeleteSftJob,
    Observation,
    Setup,
    SetWorkloadActive,
    StopJob,
)
from sftjob_operator.status import conditions as cond
from sftjob_operator.status import phase, timeutil
from sftjob_operator.status.phase import (
    CLAIM_NOT_FOUND,
    CREATE_FAILED,
    FAILED,
    FINAL_PHASES,
    STOP_JOB,
    Derived,
    NotCreated,
    Policy,
)
from sftjob_operator.status.update import (
    Event,
    next_status,
    phase_reason,
    transition_events,
    with_condition,
)

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
    "disruptions",
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
    step = restart.Step(
        derived,
        children.attempt,
        int(current.get("restarts") or 0),
        disruptions=int(current.get("disruptions") or 0),
    )
    took_pending = False
    if refusal is None and current.get("phase") not in FINAL_PHASES:
        if seen.pending and _attempt_ended(derived, children):
            # The newest record first: it may name a newer checkpoint, or 100%.
            held = progress_policy.accept(
                held, seen.pending, children.attempt, seen.attempt_started
            )
            took_pending = True
        attempt = _attempt(seen, step.restarts, held, step.disruptions)
        hold = _backoff(seen, step.restarts, now)
        step = restart.step(attempt, derived, current.get("phase"), current.get("message"), hold)
        if step.restarted:
            held = progress_policy.for_new_attempt(held)
    stall = _stall(seen, step.derived, held, now) if refusal is None else None
    if stall and seen.sftjob.spec.watchdog.fail_on_stall:
        failed = Derived(FAILED, stall.reason, stall.message, action=STOP_JOB, job_failed=True)
        step = dataclasses.replace(step, derived=failed)
    status = _next_status(seen, step, now, setup)
    assessed = health.assess(_health_facts(status, step.derived, stall), now, policy)
    status = _with_conditions(status, assessed.conditions, now, seen.sftjob.generation)
    patch = _patch(current, status, seen.progress, held)
    return Decision(
        status=status,
        progress=held,
        patch=patch,
        actions=_actions(seen, step, status, now),
        events=_events(current, status, setup) if patch else (),
        recheck_after=_earliest(
            _recheck_after(seen, step.derived, status, now, held), assessed.recheck_after
        ),
        took_pending=took_pending,
    )


def _queue_phase(seen: Observation, now: datetime) -> Derived | None:
    if seen.not_created:
        return None
    return queue.derive(
        seen.sftjob.queue, seen.children.job, seen.workload, seen.sftjob.spec.suspend, now
    )


# The condition whose lastTransitionTime says since when the children have not been
# created, for each reason why.
_NOT_CREATED_CONDITION = {
    CREATE_FAILED: cond.CHILDREN_CREATED,
    CLAIM_NOT_FOUND: cond.CHECKPOINT_STORAGE,
}


def _not_created_since(status: Mapping[str, Any], not_created: NotCreated | None) -> str | None:
    """Since when the children have not been created for this reason, as the status recorded
    it (it survives a restart of the operator; lastTransitionTime moves only with the status)."""
    if not_created is None:
        return None
    found = cond.get(status.get("conditions") or (), _NOT_CREATED_CONDITION[not_created.reason])
    if found is None or found.get("status") != "False":
        return None
    if found.get("reason") != not_created.reason:
        return None
    return str(found.get("lastTransitionTime") or "") or None


def _phase_inputs(seen: Observation) -> phase.Observed:
    return phase.Observed(
        nodes=seen.sftjob.spec.nodes,
        job=seen.children.job,
        pods=seen.children.pods,
        user_suspended=seen.sftjob.spec.suspend,
        not_created=seen.not_created,
        not_created_since=_not_created_since(seen.status, seen.not_created),
        refused=seen.refused,
    )


def _attempt_ended(derived: Derived, children: Children) -> bool:
    return derived.phase in FINAL_PHASES or bool(restart.failure(children.job, children.pods))


def _attempt(
    seen: Observation, restarts: int, held: Mapping[str, Any], disruptions: int
) -> restart.Attempt:
    return restart.Attempt(
        number=seen.children.attempt,
        job=seen.children.job,
        pods=seen.children.pods,
        restarts=restarts,
        disruptions=disruptions,
        backoff_limit=seen.sftjob.spec.backoff_limit,
        last_checkpoint=held.get("lastCheckpoint"),
    )


def _backoff(seen: Observation, restarts: int, now: datetime) -> backoff.Hold | None:
    job = seen.children.job
    if job is None:
        return None
    failed_at = restart.failed_at(job, seen.children.pods)
    return backoff.hold(seen.sftjob.spec.restart_backoff, restarts, failed_at, job.created, now)


def _running_since(current: Mapping[str, Any], now: datetime) -> datetime:
    running = cond.get(current.get("conditions") or (), cond.RUNNING)
    if running and running.get("status") == "True":
        return timeutil.parse(running.get("lastTransitionTime")) or now
    return now  # it becomes Running with this decision


def _stall(
    seen: Observation, derived: Derived, held: Mapping[str, Any], now: datetime
) -> watchdog.Stall | None:
    return watchdog.stall(
        seen.sftjob.spec.watchdog,
        derived.phase,
        held.get("progress") or {},
        _running_since(seen.status, now),
        now,
    )


def _next_status(
    seen: Observation, step: restart.Step, now: datetime, setup: Setup | None
) -> dict[str, Any]:
    stamp = timeutil.fmt(now)
    generation = seen.sftjob.generation
    job = seen.children.job
    status = next_status(
        seen.status,
        step.derived,
        now=stamp,
        generation=generation,
        attempt=step.attempt,
        job_started=job.start_time if job else None,
    )
    status["restarts"] = step.restarts
    if step.disruptions:
        status["disruptions"] = step.disruptions
    if generation is not None:  # a final phase keeps its status, but sees every generation
        status["observedGeneration"] = generation
    status = _with_conditions(status, setup.conditions if setup else (), now, generation)
    found = storage.claim_found(
        status.get("conditions") or (), str(status.get("phase")), seen.sftjob.spec.claim_name
    )
    status = _with_conditions(status, found, now, generation)
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


def _with_conditions(
    status: dict[str, Any], conditions: Iterable[Condition], now: datetime, generation: int | None
) -> dict[str, Any]:
    stamp = timeutil.fmt(now)
    for c in conditions:
        status = with_condition(
            status, c.type, c.ok, c.reason, c.message, now=stamp, generation=generation
        )
    return status


def _health_facts(
    status: Mapping[str, Any], derived: Derived, stall: watchdog.Stall | None
) -> health.Facts:
    """The health of the status to be written; `since` only while the phase is derived's."""
    phase_ = str(status.get("phase") or "")
    as_derived = phase_ == derived.phase and phase_reason(status) == derived.reason
    return health.Facts(
        phase=phase_,
        reason=phase_reason(status) or phase_,
        message=str(status.get("message") or ""),
        since=derived.since if as_derived else None,
        finding=health.Finding(stall.reason, stall.message) if stall else None,
    )


def _earliest(*seconds: float | None) -> float | None:
    return min((s for s in seconds if s is not None), default=None)


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
    conditions = status.get("conditions") or ()
    if cond.is_true(conditions, cond.STALLED) and not cond.is_true(
        current.get("conditions") or (), cond.STALLED
    ):
        stalled = cond.get(conditions, cond.STALLED) or {}
        reason = str(stalled.get("reason"))
        if all(e.reason != reason for e in events):  # a failure's own Event says it already
            events.append(Event("Warning", reason, str(stalled.get("message"))))
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
    seen: Observation,
    derived: Derived,
    status: Mapping[str, Any],
    now: datetime,
    held: Mapping[str, Any],
) -> float | None:
    left = ttl.seconds_left(status, seen.sftjob.spec.ttl_seconds_after_finished, now)
    rule = derived.recheck_after if left is None else left or None
    watch = watchdog.recheck_after(
        seen.sftjob.spec.watchdog,
        str(status.get("phase")),
        held.get("progress") or {},
        _running_since(seen.status, now),
        now,
    )
    return min((t for t in (rule, watch) if t is not None), default=None)
