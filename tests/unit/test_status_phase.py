"""Table tests: observed children -> phase and reason, one row per situation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_operator.status.observe import JobView, PodView, RefusedPod, job_view, pod_view
from sftjob_operator.status.phase import (
    STOP_JOB,
    Derived,
    NotCreated,
    Observed,
    Policy,
    derive,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
POLICY = Policy(straggler_grace_seconds=300, image_pull_grace_seconds=600)


def job(**kw: Any) -> JobView:
    return JobView(name="j-a1", attempt=1, suspended=kw.pop("suspended", False), **kw)


def pod(index: int, phase: str = "Running", **kw: Any) -> PodView:
    return PodView(name=f"j-a1-{index}-x", index=index, phase=phase, **kw)


SCHED_MSG = "0/4 nodes are available: 4 Insufficient nvidia.com/gpu."
QUOTA_MSG = (
    'pods "j-a1-1-x" is forbidden: exceeded quota: gpus, requested: requests.nvidia.com/gpu=8, '
    "used: requests.nvidia.com/gpu=8, limited: requests.nvidia.com/gpu=8"
)
REFUSED = RefusedPod(QUOTA_MSG, since="2025-01-01T11:59:00Z")

ROWS: list[tuple[str, Observed, str, str]] = [
    ("no job yet", Observed(2, None), "Pending", "Creating"),
    (
        "create failed",
        Observed(2, None, not_created=NotCreated("CreateFailed", "quota exceeded")),
        "Pending",
        "CreateFailed",
    ),
    (
        "claim missing",
        Observed(2, None, not_created=NotCreated("ClaimNotFound", "no claim c")),
        "Pending",
        "ClaimNotFound",
    ),
    # Held by the user anyway: waiting for a claim is not a problem that stalls the job.
    (
        "claim missing, suspended",
        Observed(
            2, None, user_suspended=True, not_created=NotCreated("ClaimNotFound", "no claim c")
        ),
        "Suspended",
        "Suspended",
    ),
    (
        "create failed, suspended",
        Observed(2, None, user_suspended=True, not_created=NotCreated("CreateFailed", "quota")),
        "Pending",
        "CreateFailed",
    ),
    ("no pods yet", Observed(2, job()), "Pending", "WaitingForPods"),
    ("pods refused", Observed(2, job(), [pod(0)], refused=REFUSED), "Pending", "PodCreateFailed"),
    ("one of two running", Observed(2, job(), [pod(0), pod(1, "Pending")]), "Pending", "Starting"),
    (
        "unschedulable",
        Observed(2, job(), [pod(0), pod(1, "Pending", unschedulable=SCHED_MSG)]),
        "Pending",
        "Unschedulable",
    ),
    (
        "image pull within grace",
        Observed(
            1,
            job(),
            [pod(0, "Pending", waiting_reason="ImagePullBackOff", created="2025-01-01T11:59:00Z")],
        ),
        "Pending",
        "ImagePullBackOff",
    ),
    (
        "image pull beyond grace",
        Observed(
            1,
            job(),
            [pod(0, "Pending", waiting_reason="ErrImagePull", created="2025-01-01T11:00:00Z")],
        ),
        "Failed",
        "ImagePullBackOff",
    ),
    (
        "invalid image name",
        Observed(1, job(), [pod(0, "Pending", waiting_reason="InvalidImageName")]),
        "Failed",
        "InvalidImageName",
    ),
    (
        "missing secret",
        Observed(1, job(), [pod(0, "Pending", waiting_reason="CreateContainerConfigError")]),
        "Pending",
        "CreateContainerConfigError",
    ),
    ("all running", Observed(2, job(active=2), [pod(0), pod(1)]), "Running", "Running"),
    (
        "user suspended",
        Observed(2, job(suspended=True), user_suspended=True),
        "Suspended",
        "Suspended",
    ),
    (
        "complete",
        Observed(
            2,
            job(
                succeeded=2,
                conditions={"Complete": ("True", "CompletionsReached", "")},
                completion_time="2025-01-01T11:58:00Z",
            ),
            [pod(0, "Succeeded"), pod(1, "Succeeded")],
        ),
        "Succeeded",
        "Completed",
    ),
    (
        "success criteria met",
        Observed(1, job(conditions={"SuccessCriteriaMet": ("True", "CompletionsReached", "")})),
        "Succeeded",
        "Completed",
    ),
    (
        "backoff limit",
        Observed(
            2,
            job(
                conditions={
                    "Failed": (
                        "True",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    )
                }
            ),
            [pod(0), pod(1, "Failed", exit_code=137, terminated_reason="OOMKilled")],
        ),
        "Failed",
        "BackoffLimitExceeded",
    ),
    (
        "failure target before Failed",
        Observed(2, job(conditions={"FailureTarget": ("True", "BackoffLimitExceeded", "")})),
        "Failed",
        "BackoffLimitExceeded",
    ),
    (
        "deadline",
        Observed(
            1,
            job(
                conditions={
                    "Failed": (
                        "True",
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    )
                }
            ),
        ),
        "Failed",
        "DeadlineExceeded",
    ),
    (
        "preempted",
        Observed(
            1,
            job(
                conditions={
                    "Failed": ("True", "PodFailurePolicy", "Pod has condition DisruptionTarget")
                }
            ),
        ),
        "Failed",
        "PodFailurePolicy",
    ),
    (
        "rank 0 done, others within grace",
        Observed(
            2,
            job(active=1, succeeded=1),
            [pod(0, "Succeeded", finished_at="2025-01-01T11:59:00Z"), pod(1)],
        ),
        "Running",
        "WaitingForRanks",
    ),
    (
        "rank 0 done, others hang",
        Observed(
            3,
            job(active=2, succeeded=1),
            [pod(0, "Succeeded", finished_at="2025-01-01T11:00:00Z"), pod(1), pod(2)],
        ),
        "Succeeded",
        "Rank0Succeeded",
    ),
    (
        "rank 1 done first is still running",
        Observed(2, job(active=1, succeeded=1), [pod(0), pod(1, "Succeeded")]),
        "Running",
        "Running",
    ),
]


@pytest.mark.parametrize(
    ("observed", "phase", "reason"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_phase_and_reason(observed: Observed, phase: str, reason: str) -> None:
    derived = derive(observed, NOW, POLICY)
    assert (derived.phase, derived.reason) == (phase, reason), derived.message
    assert derived.message


def row(name: str) -> Derived:
    observed = next(r[1] for r in ROWS if r[0] == name)
    return derive(observed, NOW, POLICY)


def test_a_refused_child_carries_since_when_so_that_it_can_stall() -> None:
    since = "2025-01-01T11:50:00Z"
    refused = NotCreated("CreateFailed", "quota exceeded")
    observed = Observed(2, None, not_created=refused, not_created_since=since)
    derived = derive(observed, NOW)
    assert (derived.reason, derived.message, derived.since) == (
        "CreateFailed",
        "quota exceeded",
        since,
    )


def test_unschedulable_carries_the_scheduler_message() -> None:
    assert SCHED_MSG in row("unschedulable").message


def test_failure_names_the_failing_rank_and_exit_code() -> None:
    message = row("backoff limit").message
    assert "rank 1" in message and "137" in message and "OOMKilled" in message


EVICTED_POD = {
    "metadata": {"name": "j-a1-0-x", "labels": {"batch.kubernetes.io/job-completion-index": "0"}},
    "status": {
        "phase": "Failed",
        "reason": "Evicted",
        "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, "
        "available: 2Gi. Container trainer was using 40Gi, request is 0.",
        "containerStatuses": [
            {"state": {"terminated": {"exitCode": 137, "reason": "Error"}}, "name": "trainer"}
        ],
    },
}


def test_a_kubelet_eviction_says_why_in_the_failure() -> None:
    """The kubelet's reason is on the pod, not the container (exit 137, "Error")."""
    evicted = pod_view(EVICTED_POD)
    assert evicted.kubelet_says().startswith("; Evicted: The node was low on resource: ")
    failed = job(conditions={"Failed": ("True", "PodFailurePolicy", "Container trainer failed")})
    message = derive(Observed(1, failed, [evicted]), NOW, POLICY).message
    assert (
        "rank 0 (pod j-a1-0-x) exited with code 137 (Error); Evicted: The node was low" in message
    )
    from sftjob_operator.decide.restart import pod_failure

    assert pod_failure(evicted).endswith("Container trainer was using 40Gi, request is 0.")


def test_hang_guard_stops_the_job_and_says_why() -> None:
    derived = row("rank 0 done, others hang")
    assert derived.action == STOP_JOB
    assert "ranks 1, 2" in derived.message and "300s" in derived.message
    assert derived.completion_time == "2025-01-01T11:00:00Z"


def test_hang_guard_rechecks_when_grace_ends() -> None:
    assert row("rank 0 done, others within grace").recheck_after == pytest.approx(240)


def test_image_pull_failure_stops_the_job() -> None:
    assert row("image pull beyond grace").action == STOP_JOB
    assert row("image pull within grace").recheck_after == pytest.approx(540)


def test_success_uses_the_jobs_completion_time() -> None:
    assert row("complete").completion_time == "2025-01-01T11:58:00Z"


def test_job_failed_flag_for_later_restarts() -> None:
    assert row("backoff limit").job_failed
    assert not row("image pull beyond grace").job_failed


def test_views_from_real_shaped_bodies() -> None:
    job_body = {
        "metadata": {"name": "j-a2", "labels": {"sftjob.dev/attempt": "2"}},
        "spec": {"suspend": True},
        "status": {
            "active": 1,
            "conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended"}],
        },
    }
    view = job_view(job_body)
    assert (view.attempt, view.suspended, view.active) == (2, True, 1)
    assert view.condition("Suspended") == ("JobSuspended", "")
    pod_body = {
        "metadata": {
            "name": "p",
            "labels": {"batch.kubernetes.io/job-completion-index": "3"},
            "creationTimestamp": "2025-01-01T00:00:00Z",
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": SCHED_MSG,
                    "lastTransitionTime": "2025-01-01T00:00:01Z",
                }
            ],
        },
    }
    pv = pod_view(pod_body)
    assert (pv.index, pv.phase, pv.unschedulable, pv.last_transition) == (
        3,
        "Pending",
        SCHED_MSG,
        "2025-01-01T00:00:01Z",
    )


def test_refused_pods_carry_the_apiservers_words_and_since_when() -> None:
    derived = row("pods refused")
    assert "1/2 pods created" in derived.message and QUOTA_MSG in derived.message
    assert derived.since == REFUSED.since and derived.recheck_after


def test_missing_pods_are_looked_at_again_soon() -> None:
    # The Job controller's refusal is an Event no watch sees: only a recheck finds it.
    assert row("no pods yet").recheck_after


def test_a_refusal_is_history_once_every_pod_exists() -> None:
    observed = Observed(1, job(active=1), [pod(0, "Pending")], refused=REFUSED)
    assert derive(observed, NOW, POLICY).reason == "Starting"
