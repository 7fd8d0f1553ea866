"""Observed children -> phase, reason and message. Pure; one rule per observable situation.

The restart policy (decide/restart.py) builds Restarting and the give-up reasons on top of
`Derived.job_failed`; Kueue's phases come from decide/queue.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sftjob_operator.status import timeutil
from sftjob_operator.status.observe import JobView, PodView, RefusedPod

PENDING = "Pending"
SUSPENDED = "Suspended"
RUNNING = "Running"
RESTARTING = "Restarting"
QUEUED = "Queued"  # Kueue holds the Job (decide/queue.py)
PREEMPTED = "Preempted"  # Kueue evicted it for a higher-priority workload; requeued
SUCCEEDED = "Succeeded"
FAILED = "Failed"
FINAL_PHASES = frozenset({SUCCEEDED, FAILED})

# The reason of a Restarting phase while a failed attempt waits out its crash-loop backoff.
BACKOFF = "BackOff"

STOP_JOB = "stop-job"  # action: suspend the Job so its remaining pods are terminated

# The apiserver refused a child the operator creates (a quota, a webhook, a name taken).
CREATE_FAILED = "CreateFailed"
# A job of several nodes names a claim that does not exist yet: its children wait for it,
# so that its access modes are checked before any pod is created (decide/storage.py).
CLAIM_NOT_FOUND = "ClaimNotFound"
# The Job controller could not create a pod (the apiserver refused it): see refused_pods.py.
POD_CREATE_FAILED = "PodCreateFailed"
# While pods are missing, look again soon: the Job controller's refusal is only an Event,
# which no watch of the operator's sees. Once refused, look again now and then for a new
# reason (the refusal's end is a pod, which the pod watch sees).
MISSING_PODS_RECHECK_SECONDS = 5.0
REFUSED_PODS_RECHECK_SECONDS = 30.0

# Pending on the way to Running, nothing wrong: the children are being created, the Job
# controller is creating the pods, or they are starting.
CREATING = "Creating"
WAITING_FOR_PODS = "WaitingForPods"
STARTING = "Starting"
STARTUP_REASONS = frozenset({CREATING, WAITING_FOR_PODS, STARTING})

IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff"})
PERMANENT_WAITING_REASONS = frozenset({"InvalidImageName"})


@dataclass(frozen=True)
class Policy:
    # How long ranks > 0 may keep running after rank 0 succeeded (multi-node hang guard).
    straggler_grace_seconds: int = 300
    # How long an image may fail to pull before the SFTJob fails.
    image_pull_grace_seconds: int = 600
    # How long a pod may stay unschedulable (or a pod or the Job refused by the apiserver)
    # before the SFTJob reports Stalled (it stays Pending: a node may still join).
    unschedulable_grace_seconds: int = 600


@dataclass(frozen=True)
class NotCreated:
    """Why the current attempt's children do not exist yet: the apiserver refused one
    (CREATE_FAILED), or the claim of a job of several nodes is missing (CLAIM_NOT_FOUND).
    The operator tries again (reconcile.py)."""

    reason: str
    message: str


@dataclass(frozen=True)
class Observed:
    nodes: int
    job: JobView | None
    pods: Sequence[PodView] = ()
    user_suspended: bool = False  # spec.suspend
    not_created: NotCreated | None = None
    not_created_since: str | None = None
    refused: RefusedPod | None = None  # the Job controller's latest FailedCreate Event


@dataclass(frozen=True)
class Derived:
    phase: str
    reason: str
    message: str
    action: str | None = None
    recheck_after: float | None = None  # seconds; a time-based rule may fire then
    job_failed: bool = False
    completion_time: str | None = None
    # When the situation behind `reason` began (e.g. an unschedulable pod's creation), for
    # a rule that stalls the job once it has held long enough (decide/health.py).
    since: str | None = None


def _since(moment: str | None, now: datetime) -> float:
    parsed = timeutil.parse(moment)
    return (now - parsed).total_seconds() if parsed else 0.0


def derive(observed: Observed, now: datetime, policy: Policy = Policy()) -> Derived:
    if not_created := observed.not_created:
        if observed.user_suspended and not_created.reason == CLAIM_NOT_FOUND:
            # Waiting for a claim is not stuck while the user holds the job anyway.
            return Derived(SUSPENDED, "Suspended", f"spec.suspend is true; {not_created.message}")
        return Derived(
            PENDING, not_created.reason, not_created.message, since=observed.not_created_since
        )
    job = observed.job
    if job is None:
        return Derived(PENDING, CREATING, "creating the ConfigMap, Service and Job")
    if terminal := _terminal(job, observed.pods):
        return terminal
    if job.suspended:
        # A Job that Kueue holds is Queued or Preempted (decide/queue.py), decided before.
        return Derived(SUSPENDED, "Suspended", "spec.suspend is true; pods are stopped")
    pods = [p for p in observed.pods if p.phase != "Failed"]
    if hang := _straggler_rule(observed.nodes, pods, now, policy):
        return hang
    return _pods_rule(observed.nodes, pods, now, policy, observed.refused)


def _terminal(job: JobView, pods: Sequence[PodView]) -> Derived | None:
    for type_ in ("Complete", "SuccessCriteriaMet"):
        if job.condition(type_):
            return Derived(
                SUCCEEDED,
                "Completed",
                f"all {job.succeeded} ranks completed",
                completion_time=job.completion_time,
            )
    for type_ in ("Failed", "FailureTarget"):
        if cond := job.condition(type_):
            reason, message = cond
            return Derived(
                FAILED,
                reason or "JobFailed",
                _with_pod_failure(message or "the Job failed", pods),
                job_failed=True,
            )
    return None


def _with_pod_failure(message: str, pods: Sequence[PodView]) -> str:
    for pod in sorted(pods, key=lambda p: p.index):
        if pod.phase == "Failed" and (pod.exit_code not in (None, 0) or pod.pod_reason):
            what = f"exited with code {pod.exit_code}" if pod.exit_code else "failed"
            why = f" ({pod.terminated_reason})" if pod.terminated_reason else ""
            return f"{message}; rank {pod.index} (pod {pod.name}) {what}{why}{pod.kubelet_says()}"
    return message


def _straggler_rule(
    nodes: int, pods: Sequence[PodView], now: datetime, policy: Policy
) -> Derived | None:
    rank0 = next((p for p in pods if p.index == 0 and p.phase == "Succeeded"), None)
    stragglers = sorted(p.index for p in pods if p.phase == "Running")
    if nodes < 2 or rank0 is None or not stragglers:
        return None
    finished = rank0.finished_at or rank0.last_transition
    waited = _since(finished, now)
    ranks = ", ".join(str(i) for i in stragglers)
    if waited >= policy.straggler_grace_seconds:
        return Derived(
            SUCCEEDED,
            "Rank0Succeeded",
            f"rank 0 finished at {finished}; ranks {ranks} were still running after "
            f"{policy.straggler_grace_seconds}s and were stopped",
            action=STOP_JOB,
            completion_time=finished,
        )
    return Derived(
        RUNNING,
        "WaitingForRanks",
        f"rank 0 finished at {finished}; waiting up to {policy.straggler_grace_seconds}s "
        f"for ranks {ranks}",
        recheck_after=policy.straggler_grace_seconds - waited,
    )


def _pods_rule(
    nodes: int,
    pods: Sequence[PodView],
    now: datetime,
    policy: Policy,
    refused: RefusedPod | None = None,
) -> Derived:
    running = sum(1 for p in pods if p.phase in ("Running", "Succeeded"))
    if pods and running >= nodes:
        return Derived(RUNNING, "Running", f"{running}/{nodes} ranks running")
    counts = f"{running}/{nodes} ranks running"
    for pod in sorted(pods, key=lambda p: p.index):
        if pod.waiting_reason in PERMANENT_WAITING_REASONS:
            return Derived(
                FAILED,
                pod.waiting_reason or "",
                f"rank {pod.index} (pod {pod.name}): {pod.waiting_message or pod.waiting_reason}",
                action=STOP_JOB,
            )
        if pod.waiting_reason in IMAGE_PULL_REASONS:
            waited = _since(pod.created, now)
            detail = f"rank {pod.index} (pod {pod.name}) cannot pull its image: {pod.waiting_message or pod.waiting_reason}"
            if waited >= policy.image_pull_grace_seconds:
                return Derived(
                    FAILED,
                    "ImagePullBackOff",
                    f"{detail}; gave up after {policy.image_pull_grace_seconds}s",
                    action=STOP_JOB,
                )
            return Derived(
                PENDING,
                "ImagePullBackOff",
                f"{counts}; {detail}",
                recheck_after=policy.image_pull_grace_seconds - waited,
            )
    for pod in sorted(pods, key=lambda p: p.index):
        if pod.unschedulable:
            return Derived(
                PENDING,
                "Unschedulable",
                f"{counts}; rank {pod.index} (pod {pod.name}): {pod.unschedulable}",
                since=pod.created,
            )
    for pod in sorted(pods, key=lambda p: p.index):
        if pod.waiting_reason and pod.waiting_reason != "ContainerCreating":
            return Derived(
                PENDING,
                pod.waiting_reason,
                f"{counts}; rank {pod.index} (pod {pod.name}): {pod.waiting_message or pod.waiting_reason}",
            )
    if len(pods) < nodes:
        created = f"{counts}; {len(pods)}/{nodes} pods created"
        if refused is not None:
            return Derived(
                PENDING,
                POD_CREATE_FAILED,
                f"{created}; the Job controller cannot create the others: {refused.message}",
                recheck_after=REFUSED_PODS_RECHECK_SECONDS,
                since=refused.since,
            )
        return Derived(
            PENDING, WAITING_FOR_PODS, created, recheck_after=MISSING_PODS_RECHECK_SECONDS
        )
    return Derived(PENDING, STARTING, f"{counts}; pods are starting")
