"""Restart policy: the observed attempt + spec.backoffLimit -> restart, give up, or nothing.

Pure. An attempt has failed when its Job says so (condition Failed or FailureTarget,
e.g. a pod failed, or a node was lost and the pod failure policy failed the Job) or when
one of its pods failed on its own (not deleted by someone). A deadline is not a failure a
restart can fix: `activeDeadlineSeconds` ends the SFTJob as the Job reports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sftjob_operator.decide.backoff import Hold
from sftjob_operator.status import timeutil
from sftjob_operator.status.observe import JobView, PodView
from sftjob_operator.status.phase import (
    BACKOFF,
    FAILED,
    PENDING,
    RESTARTING,
    STOP_JOB,
    Derived,
)

RESTART = "restart"
WAIT = "wait"  # restart once the crash-loop backoff has passed (backoff.py)
GIVE_UP = "give-up"
NOT_RESTARTABLE = frozenset({"DeadlineExceeded"})
MAX_TERMINATION_MESSAGE = 512


@dataclass(frozen=True)
class Attempt:
    number: int
    job: JobView | None
    pods: Sequence[PodView] = ()
    restarts: int = 0
    backoff_limit: int = 3
    last_checkpoint: str | None = None


@dataclass(frozen=True)
class Decision:
    action: str  # RESTART | WAIT | GIVE_UP
    reason: str
    message: str
    next_attempt: int | None = None
    recheck_after: float | None = None  # WAIT: seconds until the restart


def failed_at(job: JobView | None, pods: Sequence[PodView]) -> str | None:
    """When the attempt failed, as the cluster recorded it: the earliest failed pod's
    finish, else the Job's failure condition."""
    times = [
        p.finished_at or p.last_transition
        for p in pods
        if p.phase == "Failed" and not p.deleting and (p.finished_at or p.last_transition)
    ]
    if job is not None and job.failed_at:
        times.append(job.failed_at)
    return min((t for t in times if t), key=lambda t: timeutil.parse(t) or t, default=None)


def failure(job: JobView | None, pods: Sequence[PodView]) -> str | None:
    """Why the attempt failed, in words naming the pod; None while it has not failed."""
    if job is not None and job.suspended:
        return None  # pods of a suspended Job are stopped on purpose
    failed = sorted(
        (p for p in pods if p.phase == "Failed" and not p.deleting), key=lambda p: p.index
    )
    job_reason = None
    if job is not None:
        for type_ in ("Failed", "FailureTarget"):
            if cond := job.condition(type_):
                job_reason = cond
                break
    if job_reason and job_reason[0] in NOT_RESTARTABLE:
        return None
    if failed:
        return pod_failure(failed[0])
    if job_reason:
        reason, message = job_reason
        return f"Job {job.name if job else ''} failed ({reason or 'JobFailed'}): {message}".rstrip(
            ": "
        )
    return None


def pod_failure(pod: PodView) -> str:
    text = f"rank {pod.index} (pod {pod.name})"
    if pod.exit_code is not None:
        text += f" exited with code {pod.exit_code}"
    else:
        text += " failed"
    if pod.terminated_reason:
        text += f" ({pod.terminated_reason})"
    if pod.terminated_message:
        message = pod.terminated_message.strip()
        if len(message) > MAX_TERMINATION_MESSAGE:
            message = "..." + message[-MAX_TERMINATION_MESSAGE:]
        text += f": {message}"
    return text + pod.kubelet_says()


def decide(attempt: Attempt, hold: Hold | None = None) -> Decision | None:
    """`hold`: the crash-loop backoff of this failure (backoff.py), if one applies."""
    why = failure(attempt.job, attempt.pods)
    if why is None:
        return None
    if attempt.restarts < attempt.backoff_limit:
        nxt = attempt.number + 1
        resume = (
            f"resuming from {attempt.last_checkpoint}"
            if attempt.last_checkpoint
            else "resuming from the newest complete checkpoint in the output directory, if any"
        )
        if hold is not None and hold.waiting:
            return Decision(
                WAIT,
                BACKOFF,
                f"attempt {attempt.number} failed: {why}; attempt {nxt} starts at "
                f"{timeutil.fmt(hold.until)}, after a {hold.seconds}s backoff "
                f"(spec.restartBackoff; restart {attempt.restarts + 1} of "
                f"{attempt.backoff_limit}), {resume}",
                recheck_after=hold.left,
            )
        return Decision(
            RESTART,
            "Restarting",
            f"attempt {attempt.number} failed: {why}; starting attempt {nxt} "
            f"(restart {attempt.restarts + 1} of {attempt.backoff_limit}), {resume}",
            next_attempt=nxt,
        )
    return Decision(
        GIVE_UP,
        "BackoffLimitExceeded",
        f"attempt {attempt.number} failed and spec.backoffLimit ({attempt.backoff_limit}) "
        f"allows no more restarts ({attempt.restarts} done): {why}",
    )


@dataclass(frozen=True)
class Step:
    """What the restart policy makes of one reconcile's derived phase."""

    derived: Derived
    attempt: int  # the attempt the status names
    restarts: int
    restarted: bool = False  # attempt `attempt` must be started (its predecessor failed)


def step(
    attempt: Attempt,
    derived: Derived,
    current_phase: str | None,
    current_message: str | None,
    hold: Hold | None = None,
) -> Step:
    """A failed attempt restarts (Restarting, attempt+1), waits out its backoff (Restarting,
    reason BackOff, same attempt) or gives up (Failed); while the next attempt's pods start,
    the phase stays Restarting until they run."""
    outcome = decide(attempt, hold)
    if outcome and outcome.action == WAIT:
        waiting = Derived(
            RESTARTING, outcome.reason, outcome.message, recheck_after=outcome.recheck_after
        )
        return Step(waiting, attempt.number, attempt.restarts)
    if outcome and outcome.next_attempt:
        restarting = Derived(RESTARTING, outcome.reason, outcome.message)
        return Step(restarting, outcome.next_attempt, attempt.restarts + 1, restarted=True)
    if outcome:
        failed = Derived(FAILED, outcome.reason, outcome.message, action=STOP_JOB, job_failed=True)
        return Step(failed, attempt.number, attempt.restarts)
    if current_phase == RESTARTING and derived.phase == PENDING:
        derived = Derived(
            RESTARTING,
            "Restarting",
            str(current_message or derived.message),
            recheck_after=derived.recheck_after,
        )
    return Step(derived, attempt.number, attempt.restarts)
