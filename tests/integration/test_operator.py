"""The operator against a real kube-apiserver with kwok GPU nodes (what a user would check)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.operator_fixtures import (
    COMPLETE_DELAY,
    OperatorProcess,
    apply,
    children,
    condition,
    enforced_quota,
    get_sft,
    phase_is,
    printer_row,
    sftjob,
    status,
    wait_for,
    wait_for_create_failed,
)

pytestmark = pytest.mark.integration
LONG = {COMPLETE_DELAY: "600s"}  # kwok keeps these pods Running
# Tests about lifecycle, not GPUs, run CPU pods: long-running pods then hold no fake GPUs
# that the GPU tests need.
CPU = {"gpusPerNode": 0}


def env_of(pod: Any) -> dict[str, Any]:
    return {e.name: e for e in pod.spec.containers[0].env}


def test_two_by_eight_runs_on_fake_gpu_nodes_and_succeeds(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    apply(devcluster, sftjob("llm", namespace, nodes=2, gpusPerNode=8))
    (job,) = wait_for("the Job", lambda: children(kube, namespace, "llm", "Job"))
    assert job.metadata.name == "llm-a1"
    assert (job.spec.completion_mode, job.spec.completions, job.spec.parallelism) == (
        "Indexed",
        2,
        2,
    )
    names = {c.metadata.name for c in children(kube, namespace, "llm", "ConfigMap")}
    assert names == {"llm-config"}  # the config the pods mount, and the progress channel
    (svc,) = children(kube, namespace, "llm", "Service")
    assert svc.spec.cluster_ip == "None" and svc.spec.publish_not_ready_addresses

    def scheduled() -> list[Any] | None:
        pods = children(kube, namespace, "llm", "Pod")
        return pods if len(pods) == 2 and all(p.spec.node_name for p in pods) else None

    pods = wait_for("both pods scheduled", scheduled)
    assert all(p.spec.node_name.startswith("kwok-gpu-") for p in pods)
    indexes = {p.metadata.annotations["batch.kubernetes.io/job-completion-index"] for p in pods}
    assert indexes == {"0", "1"}
    assert {env_of(p)["MASTER_ADDR"].value for p in pods} == {"llm-a1-0.llm"}
    for pod in pods:
        assert pod.spec.subdomain == "llm" and pod.spec.hostname.startswith("llm-a1-")
        assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "8"
        ref = env_of(pod)["JOB_COMPLETION_INDEX"].value_from.field_ref.field_path
        assert "job-completion-index" in ref

    done = wait_for("Succeeded", lambda: phase_is(devcluster, namespace, "llm", "Succeeded"), 120)
    assert done["completionTime"] and done["startTime"]
    assert done["outputDir"] == "/workspace/output"  # where the model is, on the storage
    assert condition(done, "Succeeded")["status"] == "True"
    row = printer_row(devcluster, namespace, "llm")
    assert (row["PHASE"], row["NODES"], row["GPUS/NODE"]) == ("Succeeded", "2", "8")


def test_sixteen_gpus_per_node_stays_pending_unschedulable(
    devcluster: Any, operator: OperatorProcess, namespace: str
) -> None:
    apply(devcluster, sftjob("huge", namespace, nodes=1, gpusPerNode=16))

    def unschedulable() -> dict[str, Any] | None:
        st = status(devcluster, namespace, "huge")
        return st if condition(st, "Running").get("reason") == "Unschedulable" else None

    st = wait_for("the Unschedulable reason", unschedulable)
    assert st["phase"] == "Pending"
    assert "nvidia.com/gpu" in st["message"]
    assert printer_row(devcluster, namespace, "huge")["PHASE"] == "Pending"


def test_suspend_then_resume(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    apply(devcluster, sftjob("sus", namespace, nodes=2, suspend=True, annotations=LONG, **CPU))
    wait_for("Suspended", lambda: phase_is(devcluster, namespace, "sus", "Suspended"))
    (job,) = children(kube, namespace, "sus", "Job")
    assert job.spec.suspend is True
    assert children(kube, namespace, "sus", "Pod") == []
    assert printer_row(devcluster, namespace, "sus")["PHASE"] == "Suspended"

    devcluster.kubectl(
        "patch", "sft", "sus", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    st = wait_for("Running after resume", lambda: phase_is(devcluster, namespace, "sus", "Running"))
    assert condition(st, "Suspended")["status"] == "False"
    assert printer_row(devcluster, namespace, "sus")["PHASE"] == "Running"

    devcluster.kubectl(
        "patch", "sft", "sus", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    wait_for("Suspended again", lambda: phase_is(devcluster, namespace, "sus", "Suspended"))
    wait_for("pods stopped", lambda: not children(kube, namespace, "sus", "Pod"))


def test_kueue_label_creates_a_suspended_job_that_runs_once_admitted(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    queue = {"kueue.x-k8s.io/queue-name": "gpu-queue"}
    apply(devcluster, sftjob("q", namespace, nodes=2, labels=queue, annotations=LONG, **CPU))
    # No Kueue runs here (tests/integration/test_queue_kueue.py runs the real one): no
    # Workload is ever made, and the job says so.
    st = wait_for("queued", lambda: phase_is(devcluster, namespace, "q", "Queued"))
    assert condition(st, "Admitted")["reason"] == "WaitingForWorkload"
    assert "LocalQueue gpu-queue" in st["message"]
    (job,) = children(kube, namespace, "q", "Job")
    assert job.spec.suspend is True
    assert job.metadata.labels["kueue.x-k8s.io/queue-name"] == "gpu-queue"
    # Admission, as Kueue's batch/v1 Job integration does it: unsuspend the Job.
    devcluster.kubectl(
        "patch",
        "job",
        job.metadata.name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"suspend":false}}',
    )
    st = wait_for("Running once admitted", lambda: phase_is(devcluster, namespace, "q", "Running"))
    assert condition(st, "Admitted")["status"] == "True"
    assert printer_row(devcluster, namespace, "q")["PHASE"] == "Running"


CHILD_KINDS = ("Job", "ConfigMap", "Service")


def test_delete_garbage_collects_children_and_keeps_retained_storage(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    apply(
        devcluster,
        # Two nodes, so the headless Service is among the children.
        sftjob("gone", namespace, nodes=2, storage={"size": "1Gi"}, annotations=LONG, **CPU),
        sftjob(
            "kept",
            namespace,
            nodes=2,
            storage={"size": "1Gi", "retain": True},
            annotations=LONG,
            **CPU,
        ),
    )
    for name in ("gone", "kept"):
        wait_for(f"{name}'s Job", lambda n=name: children(kube, namespace, n, "Job"))
        assert all(children(kube, namespace, name, kind) for kind in CHILD_KINDS)
        assert children(kube, namespace, name, "PersistentVolumeClaim")
    devcluster.kubectl("delete", "sft", "gone", "kept", "-n", namespace, "--wait=false")
    for name in ("gone", "kept"):
        for kind in CHILD_KINDS:
            wait_for(
                f"{name}'s {kind} garbage-collected",
                lambda n=name, k=kind: not children(kube, namespace, n, k),
            )
    wait_for(
        "the unretained PVC deleted",
        lambda: not children(kube, namespace, "gone", "PersistentVolumeClaim"),
    )
    (pvc,) = children(kube, namespace, "kept", "PersistentVolumeClaim")
    assert pvc.metadata.deletion_timestamp is None and not pvc.metadata.owner_references
    # The namespace's trainer identity is shared by later jobs, so it stays.
    for kind in ("serviceaccount", "role", "rolebinding"):
        devcluster.kubectl("get", kind, "sftjob-trainer", "-n", namespace)


def test_restarting_the_operator_mid_creation_leaves_one_job_each(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    operator.kill()
    try:
        apply(devcluster, *(sftjob(f"r{i}", namespace, annotations=LONG, **CPU) for i in range(20)))
        operator.start()
        from kubernetes import client

        batch = client.BatchV1Api(kube)
        wait_for(
            "the first Jobs", lambda: batch.list_namespaced_job(namespace).items, interval=0.05
        )
        operator.kill()
        created_before_kill = len(batch.list_namespaced_job(namespace).items)
    finally:
        operator.start()
    for i in range(20):
        wait_for(
            f"r{i} has a phase", lambda i=i: status(devcluster, namespace, f"r{i}").get("phase")
        )
    for i in range(20):
        jobs = children(kube, namespace, f"r{i}", "Job")
        assert [j.metadata.name for j in jobs] == [f"r{i}-a1"]
    assert created_before_kill >= 1


def test_restricted_pod_security_admits_the_pods(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    devcluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    apply(devcluster, sftjob("secure", namespace, nodes=2, annotations=LONG, **CPU))
    wait_for("both pods admitted", lambda: len(children(kube, namespace, "secure", "Pod")) == 2)


def test_invalid_spec_fails_with_the_field_named(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    apply(devcluster, sftjob("bad", namespace, env=[{"name": "MASTER_ADDR", "value": "x"}]))
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "bad", "Failed"))
    assert "spec.env[0].name" in st["message"]
    assert condition(st, "ConfigNormalized")["status"] == "False"
    assert children(kube, namespace, "bad", "Job") == []


def test_deadline_fails_and_ttl_deletes(
    devcluster: Any, operator: OperatorProcess, namespace: str
) -> None:
    apply(
        devcluster,
        sftjob("slow", namespace, activeDeadlineSeconds=3, annotations=LONG, **CPU),
        sftjob("short", namespace, ttlSecondsAfterFinished=1, **CPU),
    )
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "slow", "Failed"), 90)
    assert condition(st, "Failed")["reason"] == "DeadlineExceeded" and st["completionTime"]
    wait_for("deleted after its TTL", lambda: get_sft(devcluster, namespace, "short") is None, 90)


def test_child_creation_failure_is_visible_and_recovers(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    enforced_quota(devcluster, namespace, "no-jobs", {"count/jobs.batch": "0"})
    apply(devcluster, sftjob("blocked", namespace, **CPU))

    st = wait_for_create_failed(devcluster, namespace, "blocked")
    assert st["phase"] == "Pending"
    assert "exceeded quota" in condition(st, "ChildrenCreated")["message"]
    events = devcluster.kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.name=blocked,type=Warning",
        "-o",
        "jsonpath={.items[*].reason}",
    ).stdout
    assert "CreateFailed" in events.split()

    def stalled() -> dict[str, Any] | None:
        found = condition(status(devcluster, namespace, "blocked"), "Stalled")
        return found if found.get("status") == "True" else None

    # As long as a refused pod would (--unschedulable-grace, 10 s here): kstatus reads Failed.
    assert wait_for("Stalled past the grace", stalled, timeout=90)["reason"] == "CreateFailed"

    devcluster.kubectl("delete", "resourcequota", "no-jobs", "-n", namespace)
    wait_for(
        "the Job once the quota is gone",
        lambda: children(kube, namespace, "blocked", "Job"),
        timeout=120,
    )
    wait_for(
        "ChildrenCreated",
        lambda: (
            condition(status(devcluster, namespace, "blocked"), "ChildrenCreated").get("status")
            == "True"
        ),
    )
    assert stalled() is None


def test_pods_refused_by_a_quota_say_why_and_start_once_it_is_lifted(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """The Job is created but the apiserver refuses its pods: the Job controller says so
    only in an Event on the Job, and the SFTJob's status must carry it."""
    enforced_quota(devcluster, namespace, "no-pods", {"pods": "0"})
    apply(devcluster, sftjob("refused", namespace, annotations=LONG, **CPU))

    def refused() -> dict[str, Any] | None:
        st = status(devcluster, namespace, "refused")
        return st if condition(st, "Running").get("reason") == "PodCreateFailed" else None

    st = wait_for("the PodCreateFailed reason", refused, timeout=90)
    assert st["phase"] == "Pending" and children(kube, namespace, "refused", "Job")
    assert "exceeded quota: no-pods" in st["message"], st["message"]
    assert "0/1 pods created" in st["message"]
    assert condition(st, "Stalled")["status"] == "False"  # within --unschedulable-grace
    warnings = devcluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector",
        "involvedObject.name=refused,type=Warning", "-o", "jsonpath={.items[*].reason}",
    ).stdout  # fmt: skip
    assert "PodCreateFailed" in warnings.split()

    devcluster.kubectl("delete", "resourcequota", "no-pods", "-n", namespace)
    final = wait_for(
        "Running once the quota is gone",
        lambda: phase_is(devcluster, namespace, "refused", "Running"),
        timeout=120,
    )
    assert "exceeded quota" not in final["message"]


def test_a_child_left_by_an_earlier_sftjob_of_the_name_is_not_taken(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """`kubectl delete` then `apply` of the same name (a GitOps replace) while the earlier
    job's ConfigMap is still being deleted (held here by a finalizer, as a slow garbage
    collection would): the new job waits for it to go and then creates its own, instead of
    taking one that is about to disappear."""
    left = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "again-config", "namespace": namespace, "finalizers": ["test/hold"]},
    }
    apply(devcluster, left)
    devcluster.kubectl("delete", "configmap", "again-config", "-n", namespace, "--wait=false")
    apply(devcluster, sftjob("again", namespace, annotations=LONG, **CPU))
    wait_for(
        "the refusal in status",
        lambda: "is being deleted" in status(devcluster, namespace, "again").get("message", ""),
        explain=lambda: str(status(devcluster, namespace, "again")),
    )
    patch = json.dumps({"metadata": {"finalizers": None}})
    devcluster.kubectl("patch", "configmap", "again-config", "-n", namespace, "-p", patch)
    uid = get_sft(devcluster, namespace, "again")["metadata"]["uid"]

    def owned() -> bool:
        found = children(kube, namespace, "again", "ConfigMap")
        return bool(found) and found[0].metadata.owner_references[0].uid == uid

    wait_for("the new job's own ConfigMap", owned, timeout=60)
    wait_for("its Job", lambda: children(kube, namespace, "again", "Job"))
