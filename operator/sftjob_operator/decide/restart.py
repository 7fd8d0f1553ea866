"""Restart policy: the observed attempt + spec.backoffLimit -> restart, give up, or nothing.

Pure. An attempt has failed when its Job says so (condition Failed or FailureTarget,
e.g. a pod failed, or a node was lost and the pod failure policy failed the Job) or when
one of its pods failed on its own (not deleted by someone). A deadline is not a failure a
restart can fix: `activeDeadlineSeconds` ends the SFTJob as the Job reports it.

A disruption from outside the job (a rank's pod got the DisruptionTarget condition: a
preemption, a drain or eviction, a lost node, a spot reclaim) is not the job's fault: its
restart is counted in `restarts` and `disruptions`, but not against spec.backoffLimit, as
a Job's pod failure policy `Ignore` and JobSet's `RestartJobSetAndIgnoreMaxRestarts` do.
The crash-loop backoff still grows with every restart, so a node that keeps evicting the
job (its own memory or disk pressure) slows the loop down to the backoff's cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sftjob_operator.decide.backoff import Hold
from sftjob_operator.render.meta import DISRUPTION_TARGET
from sftjob_operator.status import timeutil
from sftjob_operator.status.observe import JobView, PodView
from sftjob_operator.status.phase import (
    BACKOFF,
    FAILED,
    PENDING,
    RESTARTING,
    STARTUP_REASONS,
    STOP_JOB,
    Derived,
)

RESTART = "restart"
WAIT = "wait"  # restart once the crash-loop backoff has passed (backoff.py)
GIVE_UP = "give-up"
NOT_RESTARTABLE = frozenset({"DeadlineExceeded"})
# The trainer's exit code when it refuses its configuration (sftjob_trainer.failure
# EXIT_CONFIG; the operator does not import the trainer, a test checks they agree): every
# attempt would refuse it again, so the job fails at once.
EXIT_CONFIG_REFUSED = 2
CONFIG_REFUSED = "ConfigRefused"
MAX_TERMINATION_MESSAGE = 512


@dataclass(frozen=True)
class Attempt:
    number: int
    job: JobView | None
    pods: Sequence[PodView] = ()
    restarts: int = 0
    backoff_limit: int = 3
    last_checkpoint: str | None = None
    disruptions: int = 0  # of `restarts`, those after a disruption (not counted)


@dataclass(frozen=True)
class Decision:
    action: str  # RESTART | WAIT | GIVE_UP
    reason: str
    message: str
    next_attempt: int | None = None
    recheck_after: float | None = None  # WAIT: seconds until the restart
    disruption: str | None = None  # the DisruptionTarget reason behind the failure


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


def disruption(job: JobView | None, pods: Sequence[PodView]) -> str | None:
    """Why a rank of the failed attempt was disrupted from outside, if one was: the
    DisruptionTarget reason of a pod, or the Job's pod failure policy naming the condition
    (the pod itself may be gone: a lost node's pods are deleted)."""
    for pod in sorted(pods, key=lambda p: p.index):
        if pod.disruption and (pod.phase == "Failed" or pod.deleting):
            return pod.disruption
    for type_ in ("Failed", "FailureTarget"):
        if job is not None and (cond := job.condition(type_)):
            reason, message = cond
            if reason == "PodFailurePolicy" and DISRUPTION_TARGET in message:
                return DISRUPTION_TARGET
    return None


def config_refused(pods: Sequence[PodView]) -> bool:
    """Whether a rank failed because the trainer refused its configuration."""
    return any(
        p.phase == "Failed" and not p.deleting and p.exit_code == EXIT_CONFIG_REFUSED for p in pods
    )


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
    disrupted = disruption(attempt.job, attempt.pods)
    if not disrupted and config_refused(attempt.pods):
        return Decision(
            GIVE_UP,
            CONFIG_REFUSED,
            f"attempt {attempt.number} failed: {why}; the trainer refused its configuration "
            f"(exit code {EXIT_CONFIG_REFUSED}), which a restart cannot change: fix what the "
            "message names and create the SFTJob again",
        )
    counted = attempt.restarts - attempt.disruptions
    if disrupted or counted < attempt.backoff_limit:
        nxt = attempt.number + 1
        resume = (
            f"resuming from {attempt.last_checkpoint}"
            if attempt.last_checkpoint
            else "resuming from the newest complete checkpoint in the output directory, if any"
        )
        which = _which_restart(attempt, counted, disrupted)
        if hold is not None and hold.waiting:
            return Decision(
                WAIT,
                BACKOFF,
                f"attempt {attempt.number} failed: {why}; attempt {nxt} starts at "
                f"{timeutil.fmt(hold.until)}, after a {hold.seconds}s backoff "
                f"(spec.restartBackoff; {which}), {resume}",
                recheck_after=hold.left,
                disruption=disrupted,
            )
        return Decision(
            RESTART,
            "Restarting",
            f"attempt {attempt.number} failed: {why}; starting attempt {nxt} ({which}), {resume}",
            next_attempt=nxt,
            disruption=disrupted,
        )
    not_counted = f", {attempt.disruptions} more after disruptions" if attempt.disruptions else ""
    return Decision(
        GIVE_UP,
        "BackoffLimitExceeded",
        f"attempt {attempt.number} failed and spec.backoffLimit ({attempt.backoff_limit}) "
        f"allows no more restarts ({counted} done{not_counted}): {why}",
    )


def _which_restart(attempt: Attempt, counted: int, disrupted: str | None) -> str:
    if disrupted:
        return (
            f"a disruption ({disrupted}), not counted against spec.backoffLimit: "
            f"{counted} of {attempt.backoff_limit} used"
        )
    return f"restart {counted + 1} of {attempt.backoff_limit}"


@dataclass(frozen=True)
class Step:
    """What the restart policy makes of one reconcile's derived phase."""

    derived: Derived
    attempt: int  # the attempt the status names
    restarts: int
    restarted: bool = False  # attempt `attempt` must be started (its predecessor failed)
    disruptions: int = 0  # of `restarts`, those after a disruption


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
    kept = attempt.disruptions
    if outcome and outcome.action == WAIT:
        waiting = Derived(
            RESTARTING, outcome.reason, outcome.message, recheck_after=outcome.recheck_after
        )
        return Step(waiting, attempt.number, attempt.restarts, disruptions=kept)
    if outcome and outcome.next_attempt:
        restarting = Derived(RESTARTING, outcome.reason, outcome.message)
        disruptions = kept + 1 if outcome.disruption else kept
        return Step(
            restarting,
            outcome.next_attempt,
            attempt.restarts + 1,
            restarted=True,
            disruptions=disruptions,
        )
    if outcome:
        failed = Derived(FAILED, outcome.reason, outcome.message, action=STOP_JOB, job_failed=True)
        return Step(failed, attempt.number, attempt.restarts, disruptions=kept)
    if (
        current_phase == RESTARTING
        and derived.phase == PENDING
        and derived.reason in STARTUP_REASONS
    ):
        # The new attempt is on its way: keep saying why it was needed. A problem of its own
        # (Unschedulable, PodCreateFailed, an image pull) shows as Pending with its reason,
        # so that it can stall and fail as the first attempt's would.
        derived = Derived(
            RESTARTING,
            "Restarting",
            str(current_message or derived.message),
            recheck_after=derived.recheck_after,
        )
    return Step(derived, attempt.number, attempt.restarts, disruptions=kept)
