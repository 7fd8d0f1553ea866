"""Next status from a derived phase: conditions, times, no regression, events."""

from __future__ import annotations

from typing import Any

from sftjob_operator.status import conditions as cond
from sftjob_operator.status.phase import Derived
from sftjob_operator.status.update import next_status, transition_events, with_condition

T0, T1, T2 = "2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z"


def step(current: dict[str, Any], derived: Derived, now: str) -> dict[str, Any]:
    return next_status(current, derived, now=now, generation=3, attempt=1)


def test_pending_then_running_sets_start_time_and_conditions() -> None:
    pending = step({}, Derived("Pending", "Unschedulable", "no GPUs"), T0)
    running_cond = cond.get(pending["conditions"], cond.RUNNING)
    assert running_cond is not None
    assert running_cond["status"] == "False" and running_cond["reason"] == "Unschedulable"
    assert running_cond["observedGeneration"] == 3
    assert "startTime" not in pending and pending["attempt"] == 1
    running = step(pending, Derived("Running", "Running", "2/2"), T1)
    assert running["phase"] == "Running" and running["startTime"] == T1
    assert cond.get(running["conditions"], cond.RUNNING)["lastTransitionTime"] == T1  # type: ignore[index]


def test_a_job_first_seen_finished_takes_its_jobs_start_time() -> None:
    """It ran while the operator was down (or quicker than a reconcile): startTime is the
    Job's own; a job that never got a started Job has none."""
    pending = step({}, Derived("Pending", "Creating", "creating"), T0)
    for phase in ("Succeeded", "Failed", "Restarting"):
        seen = next_status(
            pending, Derived(phase, "X", "x"), now=T2, generation=3, attempt=1, job_started=T1
        )
        assert seen["startTime"] == T1
    refused = step(pending, Derived("Failed", "InvalidSpec", "bad"), T2)
    assert "startTime" not in refused
    running = step(pending, Derived("Running", "Running", "1/1"), T1)
    done = next_status(
        running, Derived("Succeeded", "Completed", "x"), now=T2, generation=3, attempt=1,
        job_started=T0,
    )  # fmt: skip
    assert done["startTime"] == T1  # Running was seen: its time is kept


def test_last_transition_time_moves_only_with_status() -> None:
    first = step({}, Derived("Pending", "WaitingForPods", "0/2"), T0)
    second = step(first, Derived("Pending", "Unschedulable", "no GPUs"), T1)
    running_cond = cond.get(second["conditions"], cond.RUNNING)
    assert running_cond is not None
    assert running_cond["lastTransitionTime"] == T0 and running_cond["reason"] == "Unschedulable"


def test_unchanged_observation_gives_an_equal_status() -> None:
    first = step({}, Derived("Running", "Running", "2/2"), T0)
    assert step(first, Derived("Running", "Running", "2/2"), T1) == first


def test_suspend_and_resume() -> None:
    running = step({}, Derived("Running", "Running", "2/2"), T0)
    suspended = step(running, Derived("Suspended", "Suspended", "spec.suspend"), T1)
    assert suspended["phase"] == "Suspended"
    assert cond.is_true(suspended["conditions"], cond.SUSPENDED)
    assert not cond.is_true(suspended["conditions"], cond.RUNNING)
    resumed = step(suspended, Derived("Running", "Running", "2/2"), T2)
    assert resumed["phase"] == "Running"
    s = cond.get(resumed["conditions"], cond.SUSPENDED)
    assert s is not None and s["status"] == "False" and s["reason"] == "Resumed"
    assert resumed["startTime"] == T0  # the first start is kept


def test_final_phase_never_regresses() -> None:
    done = step({}, Derived("Succeeded", "Completed", "all done", completion_time=T1), T2)
    assert done["completionTime"] == T1 and cond.is_true(done["conditions"], cond.SUCCEEDED)
    for later in ("Running", "Pending", "Failed"):
        assert step(done, Derived(later, "X", "x"), T2) == done
    failed = step({}, Derived("Failed", "DeadlineExceeded", "too long"), T1)
    assert failed["completionTime"] == T1 and cond.is_true(failed["conditions"], cond.FAILED)
    assert step(failed, Derived("Running", "Running", "x"), T2) == failed


def test_with_condition_records_create_failure() -> None:
    status = with_condition(
        {}, cond.CHILDREN_CREATED, False, "CreateFailed", "quota", now=T0, generation=1
    )
    (c,) = status["conditions"]
    assert (c["type"], c["status"], c["reason"]) == ("ChildrenCreated", "False", "CreateFailed")


def test_events_only_on_transitions() -> None:
    pending = step({}, Derived("Pending", "Creating", "creating"), T0)
    (event,) = transition_events({}, pending)
    assert (event.type, event.reason) == ("Normal", "Creating")
    unsched = step(pending, Derived("Pending", "Unschedulable", "no GPUs"), T1)
    (event,) = transition_events(pending, unsched)
    assert (event.type, event.reason) == ("Warning", "Unschedulable")
    assert (
        transition_events(
            unsched, step(unsched, Derived("Pending", "Unschedulable", "no GPUs"), T2)
        )
        == []
    )
    starting = step(pending, Derived("Pending", "Starting", "pods are starting"), T1)
    assert transition_events(pending, starting) == []  # same phase, nothing blocking
    failed = step(unsched, Derived("Failed", "DeadlineExceeded", "too long"), T2)
    (event,) = transition_events(unsched, failed)
    assert event.type == "Warning" and "too long" in event.message


def test_restarting_then_running_sets_and_clears_its_condition_with_a_warning() -> None:
    running = step({}, Derived("Running", "Running", "2/2"), T0)
    restarting = next_status(
        running,
        Derived("Restarting", "Restarting", "attempt 1 failed: rank 1 exited with code 137"),
        now=T1,
        generation=3,
        attempt=2,
    )
    assert restarting["phase"] == "Restarting" and restarting["attempt"] == 2
    assert cond.is_true(restarting["conditions"], cond.RESTARTING)
    assert not cond.is_true(restarting["conditions"], cond.RUNNING)
    (event,) = transition_events(running, restarting)
    assert (event.type, event.reason) == ("Warning", "Restarting")
    assert "code 137" in event.message
    # Attempt 2 failed before it was seen Running: the second restart is an Event too.
    restarting_again = next_status(
        restarting,
        Derived("Restarting", "Restarting", "attempt 2 failed: rank 0 exited with code 1"),
        now=T2,
        generation=3,
        attempt=3,
    )
    (event,) = transition_events(restarting, restarting_again)
    assert (event.type, event.reason) == ("Warning", "Restarting") and "attempt 2" in event.message
    again = next_status(
        restarting, Derived("Running", "Running", "2/2"), now=T2, generation=3, attempt=2
    )
    assert again["startTime"] == T0  # the SFTJob started once
    restart_cond = cond.get(again["conditions"], cond.RESTARTING)
    assert restart_cond is not None and restart_cond["status"] == "False"
    assert restart_cond["lastTransitionTime"] == T2
    assert (restart_cond["reason"], restart_cond["message"]) == (
        "AttemptStarted",
        "attempt 2 is running",
    )
    # A problem of the new attempt's own: the condition says what, not that it started.
    stuck = next_status(
        restarting,
        Derived("Pending", "Unschedulable", "0/2 ranks running; rank 1: no node fits"),
        now=T2,
        generation=3,
        attempt=2,
    )
    restart_cond = cond.get(stuck["conditions"], cond.RESTARTING)
    assert restart_cond is not None and restart_cond["status"] == "False"
    assert restart_cond["reason"] == "Unschedulable"
    assert restart_cond["message"] == "attempt 2: 0/2 ranks running; rank 1: no node fits"


def test_no_restarting_condition_until_a_restart() -> None:
    running = step({}, Derived("Running", "Running", "2/2"), T0)
    assert cond.get(running["conditions"], cond.RESTARTING) is None


def test_backoff_limit_exceeded_is_a_failed_condition_with_its_reason() -> None:
    running = step({}, Derived("Running", "Running", "1/1"), T0)
    failed = step(running, Derived("Failed", "BackoffLimitExceeded", "no more restarts"), T1)
    failed_cond = cond.get(failed["conditions"], cond.FAILED)
    assert failed_cond is not None and failed_cond["reason"] == "BackoffLimitExceeded"
    assert failed["completionTime"] == T1
