"""Restart policy: observed attempt + backoffLimit -> restart, give up, or nothing (a table)."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.decide import restart
from sftjob_operator.status.observe import JobView, PodView, job_view, pod_view
from sftjob_operator.status.phase import Derived

RUNNING_JOB = JobView(name="j-a1", attempt=1, suspended=False, active=2)


def failed_job(reason: str, message: str = "boom") -> JobView:
    return JobView(
        name="j-a1",
        attempt=1,
        suspended=False,
        failed=1,
        conditions={"Failed": ("True", reason, message)},
    )


def pod(index: int, phase: str, **kw: Any) -> PodView:
    return PodView(name=f"j-a1-{index}-x", index=index, phase=phase, **kw)


KILLED = pod(1, "Failed", exit_code=137, terminated_reason="Error", terminated_message="OOM?")


@pytest.mark.parametrize(
    ("job", "pods", "restarts", "limit", "action"),
    [
        (None, [], 0, 3, None),
        (RUNNING_JOB, [pod(0, "Running"), pod(1, "Running")], 0, 3, None),
        (RUNNING_JOB, [pod(0, "Running"), KILLED], 0, 3, restart.RESTART),
        (RUNNING_JOB, [pod(0, "Running"), KILLED], 2, 3, restart.RESTART),
        (RUNNING_JOB, [pod(0, "Running"), KILLED], 3, 3, restart.GIVE_UP),
        (RUNNING_JOB, [KILLED], 0, 0, restart.GIVE_UP),
        (failed_job("BackoffLimitExceeded"), [], 0, 1, restart.RESTART),
        (failed_job("PodFailurePolicy", "node lost"), [], 1, 1, restart.GIVE_UP),
        # A deadline is not something a restart fixes: the phase rules report it.
        (failed_job("DeadlineExceeded"), [KILLED], 0, 3, None),
        # Pods the Job controller (or a user) deletes are not failures on their own.
        (RUNNING_JOB, [pod(0, "Failed", exit_code=143, deleting=True)], 0, 3, None),
        # A suspended Job's pods are stopped on purpose.
        (JobView(name="j-a1", attempt=1, suspended=True), [KILLED], 0, 3, None),
        (RUNNING_JOB, [pod(0, "Succeeded", exit_code=0)], 0, 3, None),
    ],
)
def test_decide(
    job: JobView | None, pods: list[PodView], restarts: int, limit: int, action: str | None
) -> None:
    attempt = restart.Attempt(1, job, pods, restarts=restarts, backoff_limit=limit)
    decision = restart.decide(attempt)
    assert (decision.action if decision else None) == action


def test_a_restart_names_the_pod_its_message_and_the_checkpoint() -> None:
    attempt = restart.Attempt(
        1, RUNNING_JOB, [KILLED], restarts=0, backoff_limit=2, last_checkpoint="checkpoint-30"
    )
    decision = restart.decide(attempt)
    assert decision is not None and decision.next_attempt == 2
    assert decision.reason == "Restarting"
    for part in ("rank 1", "j-a1-1-x", "code 137", "OOM?", "checkpoint-30", "restart 1 of 2"):
        assert part in decision.message, part


def test_giving_up_says_why_with_the_last_termination_message() -> None:
    attempt = restart.Attempt(3, RUNNING_JOB, [KILLED], restarts=2, backoff_limit=2)
    decision = restart.decide(attempt)
    assert decision is not None and decision.next_attempt is None
    assert decision.reason == "BackoffLimitExceeded"
    assert "spec.backoffLimit (2)" in decision.message and "OOM?" in decision.message


def test_a_job_failure_without_pods_still_says_why() -> None:
    why = restart.failure(failed_job("PodFailurePolicy", "pod j-a1-0 has DisruptionTarget"), [])
    assert why is not None and "PodFailurePolicy" in why and "DisruptionTarget" in why


def test_long_termination_messages_are_cut() -> None:
    long = pod(0, "Failed", exit_code=1, terminated_message="x" * 5000)
    assert len(restart.pod_failure(long)) < restart.MAX_TERMINATION_MESSAGE + 100


def test_views_carry_what_the_policy_needs() -> None:
    body = {
        "metadata": {
            "name": "j-a2-0-abc",
            "labels": {"sftjob.dev/attempt": "2"},
            "deletionTimestamp": "2025-01-01T00:00:00Z",
        },
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {"state": {"terminated": {"exitCode": 137, "reason": "Error", "message": "m"}}}
            ],
        },
    }
    view = pod_view(body)
    assert (view.attempt, view.exit_code, view.terminated_message, view.deleting) == (
        2,
        137,
        "m",
        True,
    )
    job = job_view({"metadata": {"name": "j-a2", "creationTimestamp": "2025-01-01T00:00:00Z"}})
    assert job.created == "2025-01-01T00:00:00Z"


REFUSED = pod(
    0,
    "Failed",
    exit_code=2,
    terminated_reason="Error",
    terminated_message="trl.yaml: attn_implementation `flash_attention_2` needs flash-attn",
)


@pytest.mark.parametrize("restarts", [0, 2])
def test_a_refused_configuration_fails_at_once(restarts: int) -> None:
    attempt = restart.Attempt(1, RUNNING_JOB, [REFUSED], restarts=restarts, backoff_limit=3)
    decision = restart.decide(attempt)
    assert decision is not None
    assert (decision.action, decision.reason) == (restart.GIVE_UP, "ConfigRefused")
    assert "needs flash-attn" in decision.message
    assert "a restart cannot change" in decision.message
    step = restart.step(attempt, Derived("Running", "Running", "observed"), "Running", None)
    assert (step.derived.phase, step.derived.reason, step.restarts) == (
        "Failed",
        "ConfigRefused",
        restarts,
    )


def test_a_disrupted_rank_restarts_even_beside_a_refusal() -> None:
    evicted = pod(1, "Failed", exit_code=143, disruption="EvictionByEvictionAPI")
    attempt = restart.Attempt(1, RUNNING_JOB, [REFUSED, evicted], restarts=0, backoff_limit=3)
    decision = restart.decide(attempt)
    assert decision is not None and decision.action == restart.RESTART


RESTARTING_MESSAGE = "attempt 1 failed: ...; starting attempt 2"


@pytest.mark.parametrize(
    ("job", "pods", "restarts", "derived", "phase", "expected"),
    [
        # (phase, reason, attempt, restarts, restarted)
        (RUNNING_JOB, [KILLED], 0, "Running", None, ("Restarting", "Restarting", 2, 1, True)),
        (RUNNING_JOB, [KILLED], 3, "Running", None, ("Failed", "BackoffLimitExceeded", 1, 3, False)),
        (RUNNING_JOB, [pod(0, "Running")], 1, "Running", "Restarting", ("Running", "Running", 1, 1, False)),
        # The new attempt's pods are starting: still Restarting, with the restart's message.
        (RUNNING_JOB, [], 1, "Pending/Starting", "Restarting", ("Restarting", "Restarting", 1, 1, False)),
        (RUNNING_JOB, [], 1, "Pending/WaitingForPods", "Restarting", ("Restarting", "Restarting", 1, 1, False)),
        (RUNNING_JOB, [], 1, "Pending/Creating", "Restarting", ("Restarting", "Restarting", 1, 1, False)),
        # A problem of the new attempt's own shows, so that it can stall as the first's would.
        (RUNNING_JOB, [], 1, "Pending/Unschedulable", "Restarting", ("Pending", "Unschedulable", 1, 1, False)),
        (RUNNING_JOB, [], 1, "Pending/PodCreateFailed", "Restarting", ("Pending", "PodCreateFailed", 1, 1, False)),
        (RUNNING_JOB, [], 1, "Pending/CreateContainerConfigError", "Restarting", ("Pending", "CreateContainerConfigError", 1, 1, False)),
        (RUNNING_JOB, [], 0, "Pending/Starting", "Pending", ("Pending", "Starting", 1, 0, False)),
    ],
)  # fmt: skip
def test_step(
    job: JobView,
    pods: list[PodView],
    restarts: int,
    derived: str,
    phase: str | None,
    expected: tuple[str, str, int, int, bool],
) -> None:
    attempt = restart.Attempt(1, job, pods, restarts=restarts, backoff_limit=3)
    derived_phase, _, derived_reason = derived.partition("/")
    observed = Derived(derived_phase, derived_reason or derived_phase, "observed")
    step = restart.step(attempt, observed, phase, RESTARTING_MESSAGE)
    got = (step.derived.phase, step.derived.reason, step.attempt, step.restarts, step.restarted)
    assert got == expected
    if phase == "Restarting" and derived_phase == "Pending":
        kept = step.derived.phase == "Restarting"
        assert step.derived.message == (RESTARTING_MESSAGE if kept else "observed")


def test_a_failure_within_its_backoff_waits_and_says_until_when() -> None:
    from datetime import UTC, datetime

    from sftjob_operator.decide.backoff import Hold

    until = datetime(2025, 1, 1, 12, 0, 40, tzinfo=UTC)
    waiting = Hold(until=until, seconds=40, left=25.0)
    attempt = restart.Attempt(3, RUNNING_JOB, [KILLED], restarts=2, backoff_limit=5)
    decision = restart.decide(attempt, waiting)
    assert decision is not None and decision.action == restart.WAIT
    assert (decision.reason, decision.next_attempt, decision.recheck_after) == (
        "BackOff",
        None,
        25.0,
    )
    for part in ("attempt 4 starts at 2025-01-01T12:00:40Z", "40s backoff", "restart 3 of 5"):
        assert part in decision.message, part
    step = restart.step(attempt, Derived("Failed", "x", "y"), "Running", "", waiting)
    assert (step.derived.phase, step.derived.reason, step.attempt, step.restarts) == (
        "Restarting",
        "BackOff",
        3,
        2,
    )
    assert not step.restarted and step.derived.recheck_after == 25.0
    # Once the wait is over the restart goes ahead; no restarts left: no wait at all.
    passed = Hold(until=until, seconds=40, left=0.0)
    assert restart.step(attempt, Derived("Failed", "x", "y"), "Restarting", "", passed).restarted
    spent = restart.Attempt(3, RUNNING_JOB, [KILLED], restarts=5, backoff_limit=5)
    assert restart.decide(spent, waiting).action == restart.GIVE_UP  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("job", "pods", "expected"),
    [
        (RUNNING_JOB, [], None),
        (
            RUNNING_JOB,
            [pod(1, "Failed", finished_at="2025-01-01T10:00:05Z")],
            "2025-01-01T10:00:05Z",
        ),
        (
            JobView(name="j-a1", attempt=1, suspended=False, failed_at="2025-01-01T10:00:09Z"),
            [
                pod(0, "Failed", finished_at="2025-01-01T10:00:07Z"),
                pod(1, "Failed", finished_at="2025-01-01T10:00:03Z"),
            ],
            "2025-01-01T10:00:03Z",  # the earliest: when the attempt broke
        ),
        # A pod deleted by the Job controller is no failure time of its own.
        (
            JobView(name="j-a1", attempt=1, suspended=False, failed_at="2025-01-01T10:00:09Z"),
            [pod(0, "Failed", finished_at="2025-01-01T10:00:01Z", deleting=True)],
            "2025-01-01T10:00:09Z",
        ),
    ],
)
def test_failed_at(job: JobView, pods: list[PodView], expected: str | None) -> None:
    assert restart.failed_at(job, pods) == expected


def test_the_job_view_keeps_when_it_failed() -> None:
    body = {
        "metadata": {"name": "j-a1"},
        "status": {
            "conditions": [
                {
                    "type": "FailureTarget",
                    "status": "True",
                    "lastTransitionTime": "2025-01-01T10:00:01Z",
                },
                {"type": "Failed", "status": "True", "lastTransitionTime": "2025-01-01T10:00:02Z"},
            ]
        },
    }
    assert job_view(body).failed_at == "2025-01-01T10:00:01Z"
    assert job_view({"metadata": {"name": "j-a1"}}).failed_at is None


PREEMPTED = pod(
    0, "Failed", exit_code=143, terminated_reason="Error", disruption="PreemptionByScheduler"
)
NODE_LOST = failed_job(
    "PodFailurePolicy",
    "Pod ns/j-a1-0-x has condition DisruptionTarget matching FailJob rule at index 0",
)


@pytest.mark.parametrize(
    ("job", "pods", "restarts", "disruptions", "limit", "action", "disrupted"),
    [
        # Disrupted from outside: restarts even with no restarts left.
        (RUNNING_JOB, [PREEMPTED, pod(1, "Running")], 3, 0, 3, restart.RESTART, True),
        (NODE_LOST, [], 0, 0, 0, restart.RESTART, True),  # the pod is gone, the Job says so
        (NODE_LOST, [pod(0, "Failed", deleting=True, disruption="DeletionByPodGC")],
         1, 0, 1, restart.RESTART, True),
        # A failure of the job's own: earlier disruptions did not use up the limit...
        (RUNNING_JOB, [KILLED], 3, 1, 3, restart.RESTART, False),
        # ...but its own restarts did.
        (RUNNING_JOB, [KILLED], 4, 1, 3, restart.GIVE_UP, False),
        # A Running pod with the condition is not a failure (yet).
        (RUNNING_JOB, [pod(0, "Running", disruption="EvictionByEvictionAPI")],
         0, 0, 0, None, False),
    ],
)  # fmt: skip
def test_disruptions_do_not_count_against_the_backoff_limit(
    job: JobView,
    pods: list[PodView],
    restarts: int,
    disruptions: int,
    limit: int,
    action: str | None,
    disrupted: bool,
) -> None:
    attempt = restart.Attempt(
        1, job, pods, restarts=restarts, backoff_limit=limit, disruptions=disruptions
    )
    decision = restart.decide(attempt)
    assert (decision.action if decision else None) == action
    assert bool(decision and decision.disruption) == disrupted


def test_a_disruption_restart_says_so_and_is_counted_apart() -> None:
    attempt = restart.Attempt(1, RUNNING_JOB, [PREEMPTED], restarts=2, backoff_limit=2)
    step = restart.step(attempt, Derived("Running", "Running", "observed"), "Running", None)
    assert (step.attempt, step.restarts, step.disruptions, step.restarted) == (2, 3, 1, True)
    message = step.derived.message
    assert "PreemptionByScheduler" in message and "not counted against spec.backoffLimit" in message
    assert "2 of 2 used" in message
    # The next attempt keeps the count while it runs.
    running = restart.Attempt(2, RUNNING_JOB, [pod(0, "Running")], restarts=3, disruptions=1)
    kept = restart.step(running, Derived("Running", "Running", "observed"), "Restarting", None)
    assert (kept.restarts, kept.disruptions) == (3, 1)


def test_giving_up_says_how_many_restarts_were_disruptions() -> None:
    attempt = restart.Attempt(1, RUNNING_JOB, [KILLED], restarts=4, backoff_limit=3, disruptions=1)
    decision = restart.decide(attempt)
    assert decision is not None and "(3 done, 1 more after disruptions)" in decision.message


def test_the_pod_view_reads_the_disruption_reason() -> None:
    body = {
        "metadata": {"name": "j-a1-0-x"},
        "status": {
            "phase": "Failed",
            "conditions": [
                {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
            ],
        },
    }
    assert pod_view(body).disruption == "EvictionByEvictionAPI"
    assert pod_view({"metadata": {"name": "p"}, "status": {}}).disruption is None


def test_a_deleted_pods_disruption_reason_is_named() -> None:
    gone = pod(0, "Failed", deleting=True, disruption="DeletionByPodGC")
    assert restart.disruption(NODE_LOST, [gone]) == "DeletionByPodGC"
    assert restart.disruption(NODE_LOST, []) == "DisruptionTarget"
    assert restart.disruption(failed_job("PodFailurePolicy", "node lost"), []) is None


def test_the_operator_and_the_trainer_agree_on_the_exit_code_of_a_refusal() -> None:
    from sftjob_trainer.failure import EXIT_CONFIG

    assert restart.EXIT_CONFIG_REFUSED == EXIT_CONFIG
