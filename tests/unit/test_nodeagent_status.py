"""Pod status building of the local node agent (pure)."""

from __future__ import annotations

import pytest
from sftjob_devcluster.nodeagent.podstatus import (
    ContainerRun,
    build_pod_status,
    carry_transition_times,
    container_status,
    exit_code_of,
    pod_phase,
    termination_message,
)

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", "2026-01-01T00:00:09Z"
waiting = ContainerRun("c", "img")
running = waiting.running(T0)
ok = running.terminated(0, T1)
bad = running.terminated(3, T1, "boom")


@pytest.mark.parametrize(
    ("init", "main", "phase"),
    [
        ([], [waiting], "Pending"),
        ([running], [waiting], "Pending"),
        ([bad], [waiting], "Failed"),
        ([ok], [waiting], "Pending"),
        ([ok], [running], "Running"),
        ([], [running, ok], "Running"),
        ([], [ok, ok], "Succeeded"),
        ([], [ok, bad], "Failed"),
        ([], [running, bad], "Running"),
    ],
)
def test_phase(init: list[ContainerRun], main: list[ContainerRun], phase: str) -> None:
    assert pod_phase(init, main) == phase


def test_terminated_container_status() -> None:
    status = container_status(bad)
    assert status["state"]["terminated"] == {
        "exitCode": 3,
        "reason": "Error",
        "message": "boom",
        "startedAt": T0,
        "finishedAt": T1,
    }
    # the other states are explicit nulls, so a strategic merge patch removes them
    assert status["state"]["running"] is None and status["state"]["waiting"] is None
    assert status["ready"] is False
    assert container_status(ok)["state"]["terminated"]["reason"] == "Completed"


def test_running_pod_status() -> None:
    status = build_pod_status([], [running], T0, at=T1)
    assert status["phase"] == "Running"
    assert status["podIP"] == "127.0.0.1" and status["hostIP"] == "127.0.0.1"
    assert status["startTime"] == T0
    conds = {c["type"]: c for c in status["conditions"]}
    assert {k: c["status"] for k, c in conds.items()} == {
        "PodScheduled": "True",
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
    }
    assert status["containerStatuses"][0]["state"]["running"] == {"startedAt": T0}
    assert "initContainerStatuses" not in status


def test_failed_pod_status_and_override() -> None:
    status = build_pod_status([], [bad], T0, at=T2)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (status["phase"], ready["status"], ready["reason"]) == ("Failed", "False", "PodFailed")
    rejected = build_pod_status([], [waiting], T0, phase="Failed", reason="R", message="m")
    assert (rejected["phase"], rejected["reason"], rejected["message"]) == ("Failed", "R", "m")


def test_transition_times_survive_unchanged_conditions() -> None:
    first = carry_transition_times([{"type": "Ready", "status": "False"}], [], T0)
    same = carry_transition_times([{"type": "Ready", "status": "False"}], first, T1)
    flipped = carry_transition_times([{"type": "Ready", "status": "True"}], same, T2)
    assert first[0]["lastTransitionTime"] == same[0]["lastTransitionTime"] == T0
    assert flipped[0]["lastTransitionTime"] == T2


def test_termination_message_sources() -> None:
    log = "\n".join(f"line {i}" for i in range(200))
    assert termination_message("from file", log, "FallbackToLogsOnError", 1) == "from file"
    fallback = termination_message("", log, "FallbackToLogsOnError", 1)
    assert fallback.endswith("line 199") and "line 119" not in fallback
    assert termination_message("", log, "FallbackToLogsOnError", 0) == ""
    assert termination_message("", log, "File", 1) == ""
    assert len(termination_message("x" * 10000, "", None, 1)) == 4096


def test_exit_codes_of_signals() -> None:
    assert exit_code_of(-9) == 137
    assert exit_code_of(-15) == 143
    assert exit_code_of(2) == 2
