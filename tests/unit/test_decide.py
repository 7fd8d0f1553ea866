"""The decision as a whole: observation -> status write, events, actions, recheck (a table
of situations; each policy has its own table too)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sftjob_operator.decide import (
    BeginAttempt,
    Children,
    Condition,
    DeleteSftJob,
    Observation,
    Setup,
    SetWorkloadActive,
    StopJob,
    decide,
    setup,
    storage,
)
from sftjob_operator.status.observe import JobView, PodView, WorkloadView
from sftjob_operator.status.phase import (
    FAILED,
    MISSING_PODS_RECHECK_SECONDS,
    Derived,
    NotCreated,
    Policy,
)
from sftjob_operator.status.progress import Record
from sftjob_operator.status.update import phase_reason
from sftjob_operator.views import sft_view

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
STAMP = "2025-01-01T12:00:00Z"
QUOTA = NotCreated("CreateFailed", "quota")
JOB = JobView(name="j-a1", attempt=1, suspended=False, active=1, created="2025-01-01T11:00:00Z")
FAILED_POD = PodView(name="j-a1-0-x", index=0, phase="Failed", exit_code=1)
RUNNING_POD = PodView(name="j-a1-0-x", index=0, phase="Running")
COMPLETE = dataclasses.replace(JOB, active=0, conditions={"Complete": ("True", "", "")})


def running_status(**extra: Any) -> dict[str, Any]:
    seen = decide(observe({}, RUNNING_POD), NOW)
    return {**seen.status, **extra}


def observe(
    status: dict[str, Any], *pods: PodView, job: JobView | None = JOB, **kw: Any
) -> Observation:
    spec = kw.pop("spec", {})
    body = {"metadata": {"name": "j", "namespace": "ns", "uid": "u", "generation": 1}, "spec": spec}
    return Observation(
        sftjob=sft_view(body),
        status=status,
        children=Children(int(status.get("attempt") or 1), job, tuple(pods)),
        progress=kw.pop("progress", {}),
        **kw,
    )


def record(step: int, checkpoint: str | None = None) -> Record:
    return Record("progress", NOW, step, 10, {"loss": 1.0}, last_checkpoint=checkpoint)


def test_a_new_job_is_written_once_with_its_children_conditions_and_events() -> None:
    setup = Setup(
        conditions=(Condition("ChildrenCreated", True, "Created", "the children exist"),),
        output_dir="/workspace/output/x",
        translations=("spec.sftConfig.evaluation_strategy was translated",),
    )
    decision = decide(observe({}), NOW, Policy(), setup)
    assert (
        decision.patch["phase"] == "Pending"
        and decision.patch["outputDir"] == "/workspace/output/x"
    )
    assert decision.patch["attempt"] == 1 and decision.patch["restarts"] == 0
    assert [c["type"] for c in decision.patch["conditions"]] == [
        "Running",
        "ChildrenCreated",
        "Ready",
        "Reconciling",
        "Stalled",
    ]
    assert [e.reason for e in decision.events] == ["ConfigTranslated", "WaitingForPods"]
    # Pods are missing: look again soon for the Job controller's refusal (an Event).
    assert decision.actions == () and decision.recheck_after == MISSING_PODS_RECHECK_SECONDS


def test_nothing_changed_writes_nothing() -> None:
    status = running_status()
    decision = decide(observe(status, RUNNING_POD), NOW)
    assert (decision.patch, decision.events, decision.actions) == ({}, (), ())


def test_a_progress_record_alone_writes_only_progress() -> None:
    status = running_status()
    decision = decide(observe(status, RUNNING_POD, record=record(3, "checkpoint-3")), NOW)
    assert set(decision.patch) == {"progress", "lastCheckpoint"}
    assert decision.patch["progress"]["step"] == 3 and decision.events == ()


def test_a_failed_attempt_restarts_and_the_live_progress_waits() -> None:
    held = {"progress": {"step": 4, "maxSteps": 10}, "lastCheckpoint": "checkpoint-4"}
    decision = decide(observe(running_status(), FAILED_POD, progress=held), NOW)
    assert (decision.status["phase"], decision.status["attempt"]) == ("Restarting", 2)
    assert decision.status["restarts"] == 1 and "checkpoint-4" in decision.status["message"]
    assert decision.actions == (BeginAttempt(2, "j-a1"),)
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "Restarting")]
    assert decision.progress["progress"] == {"maxSteps": 10}


def test_the_newest_record_counts_before_the_restart_decides() -> None:
    pending = record(6, "checkpoint-6")
    decision = decide(observe(running_status(), FAILED_POD, pending=pending), NOW)
    assert decision.took_pending and "checkpoint-6" in decision.status["message"]
    assert decision.patch["lastCheckpoint"] == "checkpoint-6"


def test_a_pending_record_waits_while_the_attempt_runs() -> None:
    decision = decide(observe(running_status(), RUNNING_POD, pending=record(6)), NOW)
    assert not decision.took_pending and decision.patch == {}


def test_the_backoff_limit_ends_the_job_and_stops_its_pods() -> None:
    seen = observe(running_status(restarts=3), FAILED_POD)
    decision = decide(seen, NOW)
    assert (decision.status["phase"], decision.patch["completionTime"]) == (FAILED, STAMP)
    assert decision.actions == (StopJob("j-a1"),)
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "BackoffLimitExceeded")]


def test_a_refusal_fails_the_job_without_a_restart() -> None:
    refusal = Setup(
        conditions=(Condition("ConfigNormalized", False, "InvalidSpec", "spec.env[0].name: x"),),
        refusal=Derived(FAILED, "InvalidSpec", "spec.env[0].name: x"),
    )
    decision = decide(observe({}, FAILED_POD, job=None), NOW, Policy(), refusal)
    assert (decision.status["phase"], decision.status["message"]) == (FAILED, "spec.env[0].name: x")
    assert decision.actions == () and decision.status["restarts"] == 0


@pytest.mark.parametrize(
    ("ttl", "actions", "recheck"),
    [(None, (), None), (0, (DeleteSftJob(),), None), (60, (), 60.0)],
)
def test_a_finished_job_is_deleted_after_its_ttl(
    ttl: int | None, actions: tuple[Any, ...], recheck: float | None
) -> None:
    spec = {} if ttl is None else {"ttlSecondsAfterFinished": ttl}
    decision = decide(observe(running_status(), job=COMPLETE, spec=spec), NOW)
    assert decision.status["phase"] == "Succeeded" and decision.status["completionTime"] == STAMP
    assert (decision.actions, decision.recheck_after) == (actions, recheck)


def test_a_final_phase_is_never_left() -> None:
    done = decide(observe(running_status(), job=COMPLETE), NOW).status
    decision = decide(observe(done, FAILED_POD, job=COMPLETE), NOW)
    assert decision.status == done and decision.patch == {} and decision.actions == ()


def test_a_time_based_rule_asks_to_be_checked_again() -> None:
    pulling = PodView(
        name="j-a1-0-x",
        index=0,
        phase="Pending",
        waiting_reason="ImagePullBackOff",
        created="2025-01-01T11:59:00Z",
    )
    decision = decide(observe({}, pulling), NOW, Policy(image_pull_grace_seconds=600))
    assert decision.status["phase"] == "Pending" and decision.recheck_after == 540


def test_a_crash_loop_waits_out_its_backoff_then_restarts() -> None:
    crashed = dataclasses.replace(FAILED_POD, finished_at="2025-01-01T11:59:50Z")
    started = dataclasses.replace(JOB, created="2025-01-01T11:59:45Z")
    seen = observe(running_status(restarts=2), crashed, job=started)
    waiting = decide(seen, NOW)
    # 10 s doubled twice: 40 s after the failure, at 12:00:30, 30 s from now.
    assert (waiting.status["phase"], waiting.status["attempt"]) == ("Restarting", 1)
    assert waiting.status["restarts"] == 2 and waiting.actions == ()
    assert waiting.recheck_after == 30.0
    assert "attempt 2 starts at 2025-01-01T12:00:30Z" in waiting.status["message"]
    restarting = [c for c in waiting.status["conditions"] if c["type"] == "Restarting"]
    assert [(c["status"], c["reason"]) for c in restarting] == [("True", "BackOff")]
    assert [(e.type, e.reason) for e in waiting.events] == [("Warning", "BackOff")]
    # The same observation later writes nothing new; at 12:00:30 the restart goes ahead.
    again = decide(dataclasses.replace(seen, status=waiting.status), NOW)
    assert (again.patch, again.events, again.actions) == ({}, (), ())
    later = datetime(2025, 1, 1, 12, 0, 30, tzinfo=UTC)
    go = decide(dataclasses.replace(seen, status=waiting.status), later)
    assert (go.status["attempt"], go.status["restarts"]) == (2, 3)
    assert go.actions == (BeginAttempt(2, "j-a1"),)


def test_the_backoff_is_the_specs() -> None:
    crashed = dataclasses.replace(FAILED_POD, finished_at="2025-01-01T11:59:59Z")
    off = {"restartBackoff": {"initialSeconds": 0}}
    seen = observe(running_status(), crashed, spec=off)
    assert decide(seen, NOW).actions == (BeginAttempt(2, "j-a1"),)
    slow = {"restartBackoff": {"initialSeconds": 120, "maxSeconds": 600}}
    decision = decide(observe(running_status(), crashed, spec=slow), NOW)
    assert decision.actions == () and decision.recheck_after == 119.0


def test_a_loss_that_is_not_a_number_sets_stalled_and_a_finite_one_clears_it() -> None:
    status = running_status()
    nan = Record("progress", NOW, 7, 10, {}, loss_not_finite="nan")
    stalled = decide(observe(status, RUNNING_POD, record=nan), NOW)
    (cond,) = [c for c in stalled.status["conditions"] if c["type"] == "Stalled"]
    assert (cond["status"], cond["reason"]) == ("True", "LossNotFinite")
    assert stalled.status["phase"] == "Running" and stalled.actions == ()
    assert [(e.type, e.reason) for e in stalled.events] == [("Warning", "LossNotFinite")]
    assert stalled.patch["progress"]["lossNotFinite"] == "nan"
    seen = observe(stalled.status, RUNNING_POD, progress=stalled.progress, record=record(8))
    recovered = decide(seen, NOW)
    (cond,) = [c for c in recovered.status["conditions"] if c["type"] == "Stalled"]
    assert (cond["status"], cond["reason"]) == ("False", "Running")


def test_fail_on_stall_fails_the_job_and_stops_its_pods() -> None:
    spec = {"watchdog": {"progressDeadlineSeconds": 60, "failOnStall": True}}
    an_hour_ago = decide(observe({}, RUNNING_POD), datetime(2025, 1, 1, 11, 0, tzinfo=UTC))
    seen = observe(an_hour_ago.status, RUNNING_POD, spec=spec)
    decision = decide(seen, NOW)
    assert (decision.status["phase"], decision.status["completionTime"]) == (FAILED, STAMP)
    failed = [c for c in decision.status["conditions"] if c["type"] in ("Failed", "Stalled")]
    assert {(c["type"], c["reason"]) for c in failed} == {
        ("Failed", "NoProgress"),
        ("Stalled", "NoProgress"),
    }
    assert decision.actions == (StopJob("j-a1"),)
    # Without failOnStall the job keeps running, and the timer is set for the deadline.
    watch = {"watchdog": {"progressDeadlineSeconds": 60}}
    fresh = decide(observe({}, RUNNING_POD, spec=watch), NOW)
    assert fresh.status["phase"] == "Running" and fresh.recheck_after == 60.0


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_kstatus_conditions_follow_the_phase() -> None:
    running = decide(observe({}, RUNNING_POD), NOW).status
    assert [condition(running, t)["status"] for t in ("Ready", "Reconciling", "Stalled")] == [
        "False",
        "True",
        "False",
    ]
    done = decide(observe(running, job=COMPLETE), NOW).status
    assert [condition(done, t)["status"] for t in ("Ready", "Reconciling", "Stalled")] == [
        "True",
        "False",
        "False",
    ]
    assert condition(done, "Ready")["reason"] == "Completed"


def test_a_refusal_stalls_the_job() -> None:
    refused = Setup(refusal=Derived(FAILED, "InvalidSpec", "spec.nodes: must be >= 1"))
    status = decide(observe({}, job=None), NOW, Policy(), refused).status
    stalled = condition(status, "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "InvalidSpec")
    assert condition(status, "Reconciling")["status"] == "False"


def test_a_pod_unschedulable_past_its_grace_stalls_the_job_and_is_rechecked_before() -> None:
    def unschedulable(created: str) -> PodView:
        return PodView(
            name="j-a1-0-x",
            index=0,
            phase="Pending",
            unschedulable="0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
            created=created,
        )

    policy = Policy(unschedulable_grace_seconds=300)
    early = decide(observe({}, unschedulable("2025-01-01T11:59:00Z")), NOW, policy)
    assert condition(early.status, "Stalled")["status"] == "False"
    assert early.recheck_after == 240
    late = decide(observe(early.status, unschedulable("2025-01-01T11:50:00Z")), NOW, policy)
    assert late.status["phase"] == "Pending"
    assert condition(late.status, "Stalled")["status"] == "True"
    assert condition(late.status, "Reconciling")["status"] == "False"
    assert late.patch and late.recheck_after is None


def test_a_refused_child_stalls_after_its_grace_counted_from_the_status() -> None:
    """Since when is read from the ChildrenCreated condition the status holds, so a restart
    of the operator does not start the grace again."""
    policy = Policy(unschedulable_grace_seconds=300)
    refused = setup.create_failed("jobs.batch is forbidden: exceeded quota: no-jobs")
    first = decide(observe({}, job=None, not_created=QUOTA), NOW, policy, refused)
    assert first.status["phase"] == "Pending"
    assert condition(first.status, "Stalled")["status"] == "False"
    created = condition(first.status, "ChildrenCreated")
    assert (created["reason"], created["lastTransitionTime"]) == ("CreateFailed", STAMP)
    later = NOW + timedelta(seconds=299)
    still = decide(observe(first.status, job=None, not_created=QUOTA), later, policy)
    assert condition(still.status, "Stalled")["status"] == "False"
    assert still.recheck_after == 1
    past = decide(
        observe(still.status, job=None, not_created=QUOTA), later + timedelta(seconds=2), policy
    )
    stalled = condition(past.status, "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "CreateFailed")


def test_a_missing_shared_claim_is_pending_warned_and_stalls_after_its_grace() -> None:
    """A job of several nodes waits for its claim without children: Pending/ClaimNotFound
    with a Warning, and Stalled once the CheckpointStorage condition is older than the
    grace (read from the status, so an operator restart does not start it again)."""
    policy = Policy(unschedulable_grace_seconds=300)
    check = storage.storage_check(
        sft_view(
            {"metadata": {"name": "j"}, "spec": {"nodes": 2, "storage": {"claimName": "c"}}}
        ).spec,
        None,
        claim_missing=True,
    )
    waiting = setup.storage_refused(check)
    assert waiting is not None and waiting.waiting is not None
    first = decide(observe({}, job=None, not_created=waiting.waiting), NOW, policy, waiting)
    assert (first.status["phase"], phase_reason(first.status)) == ("Pending", "ClaimNotFound")
    assert first.status["message"] == check.message
    assert [(e.type, e.reason) for e in first.events] == [("Warning", "ClaimNotFound")]
    later = NOW + timedelta(seconds=301)
    past = decide(observe(first.status, job=None, not_created=waiting.waiting), later, policy)
    assert past.status["phase"] == "Pending"
    stalled = condition(past.status, "Stalled")
    assert (stalled["status"], stalled["reason"]) == ("True", "ClaimNotFound")


def test_a_final_phase_still_observes_a_new_generation() -> None:
    done = decide(observe(running_status(), job=COMPLETE), NOW).status
    assert done["observedGeneration"] == 1
    seen = observe(done, job=COMPLETE)
    body = {"metadata": {"name": "j", "namespace": "ns", "uid": "u", "generation": 2}, "spec": {}}
    decision = decide(dataclasses.replace(seen, sftjob=sft_view(body)), NOW)
    assert decision.status["phase"] == "Succeeded"
    assert decision.patch["observedGeneration"] == 2


def queued_observation(status: dict[str, Any], workload: Any, suspend: bool = False) -> Observation:
    body = {
        "metadata": {
            "name": "j",
            "namespace": "ns",
            "uid": "u",
            "generation": 1,
            "labels": {"kueue.x-k8s.io/queue-name": "team-a"},
        },
        "spec": {"suspend": suspend},
    }
    held = dataclasses.replace(JOB, suspended=True, active=0, uid="ju")
    return Observation(
        sftjob=sft_view(body),
        status=status,
        children=Children(1, held),
        progress={},
        workload=workload,
    )


def test_a_job_kueue_holds_is_queued_admitted_false_and_looked_at_again() -> None:
    pending = WorkloadView(
        "wl", "team-a", conditions={"QuotaReserved": ("False", "Pending", "insufficient quota")}
    )
    decision = decide(queued_observation({}, pending), NOW)
    assert decision.patch["phase"] == "Queued"
    assert "team-a" in decision.patch["message"] and "insufficient" in decision.patch["message"]
    admitted = next(c for c in decision.patch["conditions"] if c["type"] == "Admitted")
    assert (admitted["status"], admitted["reason"]) == ("False", "Pending")
    assert decision.actions == () and decision.recheck_after
    # Nothing new from Kueue: nothing to write.
    again = decide(queued_observation(decision.status, pending), NOW)
    assert again.patch == {}


def test_a_preempted_job_is_neither_failed_nor_restarted() -> None:
    status = running_status()
    preempted = WorkloadView(
        "wl",
        "team-a",
        conditions={
            "QuotaReserved": ("False", "Pending", "Preempted"),
            "Evicted": ("True", "Preempted", "Preempted to accommodate a workload"),
        },
    )
    decision = decide(queued_observation(status, preempted), NOW)
    assert decision.patch["phase"] == "Preempted"
    assert decision.patch["restarts"] == 0 and decision.patch["attempt"] == 1
    assert not any(isinstance(a, BeginAttempt) for a in decision.actions)


def test_suspending_a_queued_job_deactivates_its_workload_and_resuming_activates_it() -> None:
    active = WorkloadView("wl", "team-a")
    decision = decide(queued_observation({}, active, suspend=True), NOW)
    assert decision.patch["phase"] == "Suspended"
    assert decision.actions == (SetWorkloadActive("wl", False),)
    ours = WorkloadView("wl", "team-a", active=False, deactivated_by_suspend=True)
    resumed = decide(queued_observation(decision.status, ours), NOW)
    assert resumed.actions == (SetWorkloadActive("wl", True),)
    assert resumed.patch["phase"] == "Queued"
