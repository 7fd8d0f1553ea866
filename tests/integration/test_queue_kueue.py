"""SFTJobs queued in real Kueue (built from its Go module, running in the devcluster) on
kwok GPU nodes: quota, gang admission, admission-time changes, suspend, preemption."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sftjob_devcluster.kueue import gpu_queue_manifests, priority_classes
from sftjob_devcluster.nodes import GPU_RESOURCE, KWOK_NODE_LABEL, KWOK_NODE_LABEL_VALUE
from sftjob_devcluster.stages import FAIL_ANNOTATION
from sftjob_operator.render.meta import KUEUE_PRIORITY_LABEL as PRIORITY_LABEL
from sftjob_operator.render.meta import KUEUE_QUEUE_LABEL as QUEUE_LABEL

from tests.operator_fixtures import (
    COMPLETE_DELAY,
    QUICK_RESTART,
    OperatorProcess,
    apply,
    children,
    condition,
    phase_is,
    printer_row,
    sftjob,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration
# Kueue adds these to the pod template at admission (the flavor's nodeLabels, tolerations).
FLAVOR_LABELS = {KWOK_NODE_LABEL: KWOK_NODE_LABEL_VALUE}
FLAVOR_TOLERATION = {"key": "sftjob.dev/reserved", "operator": "Exists", "effect": "NoSchedule"}


def kueue_get(devcluster: Any, kind: str, name: str = "", namespace: str = "") -> Any:
    argv = ["get", f"{kind}.kueue.x-k8s.io", *([name] if name else []), "-o", "json"]
    argv += ["-n", namespace] if namespace else []
    out = devcluster.kubectl(*argv, check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


@pytest.fixture
def gpu_queue(kueue: Any, namespace: str) -> Iterator[Callable[..., str]]:
    """make(gpus, **cluster_queue_spec): a ResourceFlavor for the kwok GPU nodes, a
    ClusterQueue with that many GPUs and a LocalQueue in the test's namespace, all named
    after the namespace; returns the LocalQueue's name."""
    made: list[dict[str, Any]] = []

    def make(gpus: int, **spec: Any) -> str:
        name = namespace
        manifests = gpu_queue_manifests(name, namespace, gpus, FLAVOR_LABELS, [FLAVOR_TOLERATION])
        manifests[1]["spec"].update(spec)
        apply(kueue, *manifests)
        made.extend(manifests)
        wait_for(
            "the ClusterQueue to be active",
            lambda: (
                condition(
                    (kueue_get(kueue, "clusterqueue", name) or {}).get("status") or {}, "Active"
                ).get("status")
                == "True"
            ),
        )
        return name

    yield make
    for manifest in reversed(made):
        if manifest["kind"] != "LocalQueue":
            kueue.kubectl(
                "delete", f"{manifest['kind'].lower()}.kueue.x-k8s.io",
                manifest["metadata"]["name"], "--wait=false", check=False,
            )  # fmt: skip


def gpus_running(kube: Any, namespace: str) -> int:
    """GPUs of the pods that hold them now (not finished), as the nodes see it."""
    from kubernetes import client

    pods = client.CoreV1Api(kube).list_namespaced_pod(namespace).items
    total = 0
    for pod in pods:
        if pod.status.phase in ("Succeeded", "Failed"):
            continue
        limits = pod.spec.containers[0].resources.limits or {}
        total += int(limits.get(GPU_RESOURCE, 0))
    return total


def gpus_reserved(devcluster: Any, cluster_queue: str) -> int:
    """GPUs the ClusterQueue has reserved for admitted workloads, as Kueue reports it."""
    cq = kueue_get(devcluster, "clusterqueue", cluster_queue) or {}
    total = 0
    for flavor in (cq.get("status") or {}).get("flavorsReservation") or ():
        for res in flavor.get("resources") or ():
            if res["name"] == GPU_RESOURCE:
                total += int(res["total"])
    return total


def phases(devcluster: Any, namespace: str, names: list[str]) -> dict[str, dict[str, Any]]:
    return {n: status(devcluster, namespace, n) for n in names}


def queue_state(devcluster: Any, namespace: str, names: list[str]) -> str:
    """The SFTJobs' status and the namespace's Workloads, for a failed wait's message."""
    return json.dumps(
        {
            "sftjobs": {name: status(devcluster, namespace, name) for name in names},
            "workloads": [
                {k: w.get(k) for k in ("metadata", "spec", "status")}
                for w in kueue_get(devcluster, "workload", namespace=namespace)["items"]
            ],
        },
        indent=1,
    )[-6000:]


def test_four_eight_gpu_jobs_in_a_sixteen_gpu_queue_run_two_at_a_time(
    kueue: Any, operator: OperatorProcess, kube: Any, namespace: str, gpu_queue: Any
) -> None:
    queue = gpu_queue(16)
    names = [f"j{i}" for i in range(4)]
    apply(
        kueue,
        *(
            sftjob(
                n,
                namespace,
                nodes=1,
                gpusPerNode=8,
                labels={QUEUE_LABEL: queue},
                annotations={COMPLETE_DELAY: "12s"},
            )
            for n in names
        ),
    )
    most_running = most_reserved = 0
    saw_two_queued = False
    deadline = time.monotonic() + 240
    while True:
        most_running = max(most_running, gpus_running(kube, namespace))
        most_reserved = max(most_reserved, gpus_reserved(kueue, queue))
        seen = phases(kueue, namespace, names)
        queued = [s for s in seen.values() if s.get("phase") == "Queued"]
        if len(queued) == 2 and sum(s.get("phase") == "Running" for s in seen.values()) == 2:
            saw_two_queued = True
            for st in queued:
                assert f"LocalQueue {queue}" in st["message"]
                admitted = condition(st, "Admitted")
                assert admitted["status"] == "False" and admitted["reason"]
                assert condition(st, "Failed") == {}
        if all(s.get("phase") == "Succeeded" for s in seen.values()):
            break
        assert time.monotonic() < deadline, f"not all Succeeded: {seen}"
        time.sleep(0.5)
    assert most_running <= 16, f"{most_running} GPUs ran at once in a 16-GPU queue"
    assert most_reserved <= 16, f"Kueue reserved {most_reserved} GPUs of 16"
    assert most_running == 16  # two at a time did run
    assert saw_two_queued, "never saw two jobs Queued while two ran"
    for st in phases(kueue, namespace, names).values():
        assert st["restarts"] == 0 and condition(st, "Succeeded")["status"] == "True"


def test_queued_state_in_printer_columns(
    kueue: Any, operator: OperatorProcess, namespace: str, gpu_queue: Any
) -> None:
    queue = gpu_queue(8)
    apply(kueue, sftjob("big", namespace, nodes=1, gpusPerNode=16, labels={QUEUE_LABEL: queue}))

    def with_kueues_reason() -> dict[str, Any] | None:
        # Kueue's first word may be a transient one (waiting for admission) before it
        # has weighed the quota: wait for the quota's.
        st = phase_is(kueue, namespace, "big", "Queued")
        admitted = condition(st, "Admitted") if st else {}
        if not st or admitted.get("reason") == "WaitingForWorkload":
            return None
        return st if "nvidia.com/gpu" in st["message"] else None

    st = wait_for("Queued with Kueue's quota reason", with_kueues_reason)
    assert f"LocalQueue {queue}" in st["message"], st
    row = printer_row(kueue, namespace, "big")
    assert (row["PHASE"], row["QUEUE"]) == ("Queued", queue)


def test_a_two_node_job_waits_until_sixteen_gpus_are_free(
    kueue: Any, operator: OperatorProcess, kube: Any, namespace: str, gpu_queue: Any
) -> None:
    queue = gpu_queue(16)
    labels = {QUEUE_LABEL: queue}
    apply(
        kueue,
        sftjob(
            "blocker",
            namespace,
            nodes=1,
            gpusPerNode=8,
            labels=labels,
            annotations={COMPLETE_DELAY: "600s"},
        ),
    )
    wait_for("the blocker Running", lambda: phase_is(kueue, namespace, "blocker", "Running"))
    apply(kueue, sftjob("gang", namespace, nodes=2, gpusPerNode=8, labels=labels))
    wait_for("the gang Queued", lambda: phase_is(kueue, namespace, "gang", "Queued"))
    # Eight GPUs are free, but the Workload needs sixteen: no rank starts, none is pending.
    until = time.monotonic() + 10
    while time.monotonic() < until:
        assert children(kube, namespace, "gang", "Pod") == []
        st = status(kueue, namespace, "gang")
        assert st["phase"] == "Queued", st
        assert gpus_reserved(kueue, queue) <= 16
        time.sleep(0.5)
    assert "LocalQueue" in st["message"] and condition(st, "Admitted")["status"] == "False"

    kueue.kubectl("delete", "sft", "blocker", "-n", namespace, "--wait=false")
    wait_for("the gang Running", lambda: phase_is(kueue, namespace, "gang", "Running"), 120)
    pods = children(kube, namespace, "gang", "Pod")
    assert len(pods) == 2
    st = wait_for("Succeeded", lambda: phase_is(kueue, namespace, "gang", "Succeeded"), 120)
    assert st["restarts"] == 0


def test_kueues_admission_changes_stay_and_a_restart_is_queued_again(
    kueue: Any, operator: OperatorProcess, kube: Any, namespace: str, gpu_queue: Any
) -> None:
    queue = gpu_queue(16)
    apply(
        kueue,
        sftjob(
            "flaky",
            namespace,
            nodes=1,
            gpusPerNode=8,
            backoffLimit=1,
            labels={QUEUE_LABEL: queue},
            annotations={FAIL_ANNOTATION: "flaky disk", COMPLETE_DELAY: "4s"},
            **QUICK_RESTART,
        ),
    )

    def admitted_job(attempt: int) -> Any:
        jobs = [
            j
            for j in children(kube, namespace, "flaky", "Job")
            if j.metadata.name == f"flaky-a{attempt}" and not j.spec.suspend
        ]
        return jobs[0] if jobs else None

    for attempt in (1, 2):
        job = wait_for(f"attempt {attempt} admitted", lambda a=attempt: admitted_job(a), 120)
        pod_spec = job.spec.template.spec
        # Kueue's flavor, injected at admission, left as Kueue made it.
        assert pod_spec.node_selector == FLAVOR_LABELS
        assert any(t.key == FLAVOR_TOLERATION["key"] for t in pod_spec.tolerations or ())
        # Each attempt's Job is a new Workload, admitted by Kueue on its own.
        workloads = kueue_get(kueue, "workload", namespace=namespace)["items"]
        mine = [
            w
            for w in workloads
            if w["metadata"]["labels"].get("kueue.x-k8s.io/job-uid") == job.metadata.uid
        ]
        assert len(mine) == 1 and mine[0]["spec"]["queueName"] == queue
    st = wait_for("Failed", lambda: phase_is(kueue, namespace, "flaky", "Failed"), 120)
    assert (st["attempt"], st["restarts"]) == (2, 1)
    # The operator wrote nothing into the pod template Kueue changed.
    job = admitted_job(2)
    assert job is None or job.spec.template.spec.node_selector == FLAVOR_LABELS


def test_suspend_releases_the_quota_and_resume_queues_again(
    kueue: Any, operator: OperatorProcess, kube: Any, namespace: str, gpu_queue: Any
) -> None:
    queue = gpu_queue(8)
    apply(
        kueue,
        sftjob(
            "sus",
            namespace,
            nodes=1,
            gpusPerNode=8,
            labels={QUEUE_LABEL: queue},
            annotations={COMPLETE_DELAY: "600s"},
        ),
    )
    wait_for("Running", lambda: phase_is(kueue, namespace, "sus", "Running"))
    # Kueue reports the reservation in the ClusterQueue's status a moment later.
    wait_for("the quota reserved", lambda: gpus_reserved(kueue, queue) == 8)
    patch = '{"spec":{"suspend":%s}}'
    kueue.kubectl("patch", "sft", "sus", "-n", namespace, "--type=merge", "-p", patch % "true")
    st = wait_for("Suspended", lambda: phase_is(kueue, namespace, "sus", "Suspended"))
    assert condition(st, "Admitted")["status"] == "False"
    wait_for("the pods stopped", lambda: not children(kube, namespace, "sus", "Pod"))
    wait_for("the quota released", lambda: gpus_reserved(kueue, queue) == 0)
    # Kueue would unsuspend the Job of an active Workload; it stays suspended.
    time.sleep(3)
    (job,) = children(kube, namespace, "sus", "Job")
    assert job.spec.suspend is True and status(kueue, namespace, "sus")["phase"] == "Suspended"

    kueue.kubectl("patch", "sft", "sus", "-n", namespace, "--type=merge", "-p", patch % "false")
    st = wait_for(
        "Running again",
        lambda: phase_is(kueue, namespace, "sus", "Running"),
        60,
        explain=lambda: queue_state(kueue, namespace, ["sus"]),
    )
    assert condition(st, "Admitted")["status"] == "True" and st["restarts"] == 0


def test_a_preempted_job_shows_preempted_is_not_failed_and_runs_again(
    kueue: Any, operator: OperatorProcess, kube: Any, namespace: str, gpu_queue: Any
) -> None:
    priorities = priority_classes(namespace, {"low": 100, "high": 1000})
    apply(kueue, *priorities)
    queue = gpu_queue(8, preemption={"withinClusterQueue": "LowerPriority"})
    low = {QUEUE_LABEL: queue, PRIORITY_LABEL: f"{namespace}-low"}
    high = {QUEUE_LABEL: queue, PRIORITY_LABEL: f"{namespace}-high"}
    apply(
        kueue,
        # Long enough that it cannot finish before the preemption, on a loaded machine too
        # (the chain: high's SFTJob, its Job, Kueue's Workload, the preemption); 60 s was
        # not, once, in a full CI run.
        sftjob(
            "low", namespace, nodes=1, gpusPerNode=8, labels=low,
            annotations={COMPLETE_DELAY: "100s"},
        ),
    )  # fmt: skip
    wait_for("low Running", lambda: phase_is(kueue, namespace, "low", "Running"))
    (job,) = children(kube, namespace, "low", "Job")
    assert job.metadata.labels[PRIORITY_LABEL] == f"{namespace}-low"  # passed through
    apply(
        kueue,
        sftjob(
            "high", namespace, nodes=1, gpusPerNode=8, labels=high,
            # 30 s, not 5: low stays Preempted while high runs, long enough to be seen
            # under a full CI run's load (low was once re-admitted before a poll saw it)
            annotations={COMPLETE_DELAY: "30s"},
        ),
    )  # fmt: skip
    st = wait_for(
        "low Preempted",
        lambda: phase_is(kueue, namespace, "low", "Preempted"),
        90,
        explain=lambda: queue_state(kueue, namespace, ["low", "high"]),
    )
    assert st["restarts"] == 0 and st["attempt"] == 1
    assert condition(st, "Failed") == {} and condition(st, "Admitted")["status"] == "False"
    assert "preempted" in st["message"].lower()
    wait_for("high Succeeded", lambda: phase_is(kueue, namespace, "high", "Succeeded"), 120)
    st = wait_for("low Succeeded", lambda: phase_is(kueue, namespace, "low", "Succeeded"), 180)
    assert (st["restarts"], st["attempt"]) == (0, 1)  # resumed, not restarted
    for p in priorities:
        kueue.kubectl(
            "delete", "workloadpriorityclass.kueue.x-k8s.io", p["metadata"]["name"], check=False
        )
