"""The local node agent's images table, restart policies and liveness probes (pure)."""

from __future__ import annotations

import pytest
from sftjob_devcluster.nodeagent.errors import PodRejected
from sftjob_devcluster.nodeagent.images import local_image, own_network, repository_of
from sftjob_devcluster.nodeagent.podstatus import (
    ContainerRun,
    build_pod_status,
    crash_backoff,
    pod_phase,
    should_restart,
)
from sftjob_devcluster.nodeagent.probes import Probe, ProbeState, after, first_due, liveness_probe

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", "2026-01-01T00:00:09Z"


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("ghcr.io/sftjob/operator:0.1.0", "ghcr.io/sftjob/operator"),
        ("ghcr.io/sftjob/operator", "ghcr.io/sftjob/operator"),
        ("localhost:5000/sftjob/operator@sha256:ab", "localhost:5000/sftjob/operator"),
        ("localhost:5000/op:1", "localhost:5000/op"),
    ],
)
def test_repository_of_an_image(image: str, repository: str) -> None:
    assert repository_of(image) == repository


def operator_pod(**spec: object) -> dict[str, object]:
    container = {"name": "operator", "image": "ghcr.io/sftjob/operator:0.2.0"}
    return {"spec": {"containers": [container], **spec}}


def test_the_operator_image_gets_a_network_of_its_own_and_the_trainer_does_not() -> None:
    assert local_image("ghcr.io/sftjob/operator:9") is not None
    assert own_network(operator_pod())
    assert not own_network(operator_pod(hostNetwork=True))
    trainer = {"spec": {"containers": [{"name": "t", "image": "ghcr.io/sftjob/trainer:0.1.0"}]}}
    assert not own_network(trainer)


def test_an_own_network_pod_of_two_containers_is_refused() -> None:
    pod = operator_pod()
    pod["spec"]["containers"].append({"name": "side", "image": "busybox"})  # type: ignore[index]
    with pytest.raises(PodRejected, match="single container"):
        own_network(pod)


def test_phase_under_each_restart_policy() -> None:
    crashed = ContainerRun("c").running(T0).terminated(3, T1)
    waiting = crashed.backing_off(10)
    assert pod_phase([], [crashed]) == "Failed"
    assert pod_phase([], [waiting], "Always") == "Running"
    assert pod_phase([], [waiting], "OnFailure") == "Running"
    done = ContainerRun("c").running(T0).terminated(0, T1)
    assert pod_phase([], [done], "OnFailure") == "Succeeded"
    assert pod_phase([], [done], "Always") == "Running"
    assert pod_phase([], [ContainerRun("c")], "Always") == "Pending"


def test_a_restarted_container_counts_its_restarts_and_keeps_the_last_state() -> None:
    run = ContainerRun("c", image_id="local:///venv/bin/x").running(T0).terminated(3, T1)
    waiting = run.backing_off(10)
    status = build_pod_status([], [waiting], T0, at=T1, restart_policy="Always")
    [container] = status["containerStatuses"]
    assert container["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert container["lastState"]["terminated"]["exitCode"] == 3
    again = waiting.restarted(T2)
    status = build_pod_status([], [again], T0, at=T2, restart_policy="Always")
    [container] = status["containerStatuses"]
    assert container["restartCount"] == 1
    assert container["state"]["running"] == {"startedAt": T2}
    assert container["imageID"] == "local:///venv/bin/x"
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_restart_rules_and_back_off() -> None:
    assert should_restart("Always", 0) and should_restart("OnFailure", 1)
    assert not should_restart("OnFailure", 0) and not should_restart("Never", 1)
    assert [crash_backoff(10, n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


CHART_CONTAINER = {
    "name": "operator",
    "ports": [{"name": "liveness", "containerPort": 8080}],
    "livenessProbe": {
        "httpGet": {"path": "/healthz", "port": "liveness"},
        "initialDelaySeconds": 15,
        "periodSeconds": 20,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    },
}


def test_the_charts_liveness_probe_is_read_as_written() -> None:
    probe = liveness_probe(CHART_CONTAINER, "spec.containers[0]")
    assert probe == Probe("httpGet", 8080, "/healthz", "127.0.0.1", 15, 20, 5, 3)


@pytest.mark.parametrize(
    ("probe", "field"),
    [
        ({"exec": {"command": ["true"]}}, "spec.containers[0].livenessProbe"),
        ({"httpGet": {"port": "nope"}}, "spec.containers[0].livenessProbe.httpGet.port"),
        (
            {"httpGet": {"port": 1, "scheme": "HTTPS"}},
            "spec.containers[0].livenessProbe.httpGet.scheme",
        ),
    ],
)
def test_probes_the_agent_cannot_run_are_refused_by_field(probe: object, field: str) -> None:
    with pytest.raises(PodRejected) as err:
        liveness_probe({"livenessProbe": probe}, "spec.containers[0]")
    assert err.value.field == field


def test_only_failure_threshold_consecutive_failures_restart() -> None:
    probe = Probe("httpGet", 1, initial_delay=15, period=20, failure_threshold=3)
    state = first_due(probe)
    assert state == ProbeState(0, 15)
    state, kill = after(probe, state, False, 15)
    state, kill = after(probe, state, False, 35)
    assert not kill and state.failures == 2 and state.next_at == 55
    state, kill = after(probe, state, True, 55)
    assert not kill and state.failures == 0
    for now in (75, 95):
        state, kill = after(probe, state, False, now)
        assert not kill
    state, kill = after(probe, state, False, 115)
    assert kill and state.failures == 0
