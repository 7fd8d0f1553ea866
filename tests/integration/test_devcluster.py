"""Acceptance tests of the devcluster against its real control plane (issue 2)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from sftjob_devcluster import versions
from sftjob_devcluster.cluster import ClusterConfig, ComponentError, DevCluster
from sftjob_devcluster.nodes import GPU_RESOURCE, NodeShape
from sftjob_devcluster.stages import COMPLETE_DELAY_ANNOTATION, FAIL_ANNOTATION

from tests.polling import wait_for

pytestmark = pytest.mark.integration


def get_json(cluster: DevCluster, *argv: str) -> Any:
    return json.loads(cluster.kubectl("get", *argv, "-o", "json").stdout)


def apply(cluster: DevCluster, manifest: dict[str, Any], *extra: str) -> None:
    cluster.kubectl("apply", "-f", "-", *extra, input=json.dumps(manifest))


def test_kubectl_version_reports_the_built_server_version(devcluster: DevCluster) -> None:
    out = json.loads(devcluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == versions.KUBERNETES
    assert os.environ["KUBECONFIG"] == str(devcluster.kubeconfig)


def _crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["size"],
                                    "properties": {"size": {"type": "integer", "minimum": 1}},
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {"phase": {"type": "string"}},
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def test_crd_schema_and_status_subresource_are_enforced(
    devcluster: DevCluster, namespace: str
) -> None:
    group = f"t{uuid.uuid4().hex[:8]}.devcluster.test"
    apply(devcluster, _crd(group))
    try:
        devcluster.kubectl(
            "wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=60s"
        )
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "namespace": namespace},
            "spec": {"size": 3},
        }
        wait_for(
            "the new CRD to be served",
            lambda: (
                devcluster.kubectl(
                    "apply", "-f", "-", input=json.dumps(widget), check=False
                ).returncode
                == 0
            ),
        )

        bad = {**widget, "metadata": {"name": "w2", "namespace": namespace}}
        bad["spec"] = {"size": 3, "colour": "red"}
        rejected = devcluster.kubectl(
            "apply", "--validate=strict", "-f", "-", input=json.dumps(bad), check=False
        )
        assert rejected.returncode != 0
        assert 'unknown field "spec.colour"' in rejected.stderr
        assert (
            devcluster.kubectl(
                "get", f"widgets.{group}", "w2", "-n", namespace, check=False
            ).returncode
            != 0
        )

        too_small = {**widget, "spec": {"size": 0}}
        invalid = devcluster.kubectl("apply", "-f", "-", input=json.dumps(too_small), check=False)
        assert invalid.returncode != 0
        assert "spec.size" in invalid.stderr

        # The status subresource: status is written only through /status.
        devcluster.kubectl(
            "patch",
            f"widgets.{group}",
            "w1",
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status": {"phase": "Ready"}}',
        )
        got = get_json(devcluster, f"widgets.{group}", "w1", "-n", namespace)
        assert got["status"] == {"phase": "Ready"}
        devcluster.kubectl(
            "patch",
            f"widgets.{group}",
            "w1",
            "-n",
            namespace,
            "--type=merge",
            "-p",
            '{"status": {"phase": "Hacked"}, "spec": {"size": 4}}',
        )
        got = get_json(devcluster, f"widgets.{group}", "w1", "-n", namespace)
        assert got["spec"]["size"] == 4
        assert got["status"] == {"phase": "Ready"}
    finally:
        devcluster.kubectl("delete", "crd", f"widgets.{group}", "--wait=false", check=False)


def _gpu_container(gpus: int) -> dict[str, Any]:
    return {
        "name": "train",
        "image": "example.invalid/trainer:latest",
        "command": ["train"],
        "resources": {"limits": {GPU_RESOURCE: str(gpus)}, "requests": {GPU_RESOURCE: str(gpus)}},
    }


def _job(name: str, namespace: str, completions: int, gpus: int, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "completions": completions,
            "parallelism": completions,
            "completionMode": "Indexed",
            "backoffLimit": 0,
            **spec,
            "template": {
                "metadata": {"annotations": {COMPLETE_DELAY_ANNOTATION: "8s"}},
                "spec": {"restartPolicy": "Never", "containers": [_gpu_container(gpus)]},
            },
        },
    }


def _job_pods(cluster: DevCluster, namespace: str, job: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get_json(
        cluster, "pods", "-n", namespace, "-l", f"batch.kubernetes.io/job-name={job}"
    )["items"]
    return items


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions", []) or []:
        if cond["type"] == kind:
            return dict(cond)
    return None


def test_indexed_gpu_job_runs_on_two_fake_nodes_and_completes(
    devcluster: DevCluster, namespace: str
) -> None:
    apply(devcluster, _job("sft", namespace, completions=2, gpus=8))

    def both_running() -> list[dict[str, Any]] | None:
        pods = _job_pods(devcluster, namespace, "sft")
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return running if len(running) == 2 else None

    running = wait_for("both job pods to be Running", both_running)
    nodes = {p["spec"]["nodeName"] for p in running}
    assert len(nodes) == 2, f"8-GPU pods must land on distinct nodes, got {nodes}"
    for node in nodes:
        labels = get_json(devcluster, "node", node)["metadata"]["labels"]
        assert labels["type"] == "kwok"
    indexes = {
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in running
    }
    assert indexes == {"0", "1"}

    def complete() -> dict[str, Any] | None:
        job = get_json(devcluster, "job", "sft", "-n", namespace)
        cond = _condition(job, "Complete")
        return job if cond and cond["status"] == "True" else None

    job = wait_for("the Job to be Complete", complete)
    assert job["status"]["succeeded"] == 2
    phases = {p["status"]["phase"] for p in _job_pods(devcluster, namespace, "sft")}
    assert phases == {"Succeeded"}


def test_fail_annotation_fails_a_job_pod_with_its_message(
    devcluster: DevCluster, namespace: str
) -> None:
    job = _job("doomed", namespace, completions=1, gpus=1)
    job["spec"]["template"]["metadata"]["annotations"] = {
        COMPLETE_DELAY_ANNOTATION: "1s",
        FAIL_ANNOTATION: "CUDA error: an illegal memory access",
    }
    apply(devcluster, job)

    def failed() -> dict[str, Any] | None:
        pods = _job_pods(devcluster, namespace, "doomed")
        return pods[0] if pods and pods[0]["status"].get("phase") == "Failed" else None

    pod = wait_for("the pod to fail", failed)
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 1
    assert terminated["message"] == "CUDA error: an illegal memory access"
    wait_for(
        "the Job to fail",
        lambda: _condition(get_json(devcluster, "job", "doomed", "-n", namespace), "Failed"),
    )


def test_deleted_job_pod_is_removed_despite_the_job_finalizer(
    devcluster: DevCluster, namespace: str
) -> None:
    apply(devcluster, _job("deleted", namespace, completions=1, gpus=1))
    pod = wait_for(
        "the pod to run",
        lambda: next(
            (
                p
                for p in _job_pods(devcluster, namespace, "deleted")
                if p["status"].get("phase") == "Running"
            ),
            None,
        ),
    )
    assert "batch.kubernetes.io/job-tracking" in pod["metadata"].get("finalizers", [])
    name = pod["metadata"]["name"]
    devcluster.kubectl("delete", "pod", name, "-n", namespace, "--wait=false")
    wait_for(
        "the deleted pod to disappear",
        lambda: (
            devcluster.kubectl("get", "pod", name, "-n", namespace, check=False).returncode != 0
        ),
    )


def test_pod_larger_than_any_node_stays_pending_unschedulable(
    devcluster: DevCluster, namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "too-big", "namespace": namespace},
        "spec": {"containers": [_gpu_container(9)]},
    }
    apply(devcluster, pod)

    def unschedulable() -> dict[str, Any] | None:
        got = get_json(devcluster, "pod", "too-big", "-n", namespace)
        cond = _condition(got, "PodScheduled")
        return got if cond and cond.get("reason") == "Unschedulable" else None

    got = wait_for("the scheduler to mark the pod Unschedulable", unschedulable)
    assert got["status"]["phase"] == "Pending"
    assert not got["spec"].get("nodeName")
    assert GPU_RESOURCE in _condition(got, "PodScheduled")["message"]  # type: ignore[index]


def test_deleting_an_owner_garbage_collects_its_dependents(
    devcluster: DevCluster, namespace: str
) -> None:
    owner = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "owner", "namespace": namespace},
    }
    apply(devcluster, owner)
    uid = get_json(devcluster, "configmap", "owner", "-n", namespace)["metadata"]["uid"]
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": namespace,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}
            ],
        },
    }
    apply(devcluster, dependent)
    devcluster.kubectl("delete", "configmap", "owner", "-n", namespace)

    def gone() -> bool:
        res = devcluster.kubectl("get", "configmap", "dependent", "-n", namespace, check=False)
        return res.returncode != 0 and "NotFound" in res.stderr

    wait_for("the garbage collector to delete the dependent", gone)


def test_ttl_after_finished_deletes_a_finished_job(devcluster: DevCluster, namespace: str) -> None:
    # Long enough for a polling kubectl on a busy machine to see the Job Complete first.
    job = _job("short", namespace, completions=1, gpus=1, ttlSecondsAfterFinished=5)
    job["spec"]["template"]["metadata"]["annotations"][COMPLETE_DELAY_ANNOTATION] = "1s"
    apply(devcluster, job)

    seen_complete = False

    def deleted() -> bool:
        nonlocal seen_complete
        res = devcluster.kubectl("get", "job", "short", "-n", namespace, "-o", "json", check=False)
        if res.returncode != 0:
            return "NotFound" in res.stderr
        cond = _condition(json.loads(res.stdout), "Complete")
        seen_complete = seen_complete or bool(cond and cond["status"] == "True")
        return False

    wait_for("the TTL controller to delete the finished Job", deleted)
    assert seen_complete, "the Job was deleted before it was ever seen Complete"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_crash_is_reported_up_recovers_and_down_leaves_no_process(tmp_path: Path) -> None:
    """A second, separate cluster: crash reporting, recovery and a clean `down`."""
    state = tmp_path / "second"
    cluster = DevCluster(
        ClusterConfig(name="second", state_dir=state, nodes=NodeShape(count=1, gpus=2))
    )
    first_pids: dict[str, int] = {}
    pids: dict[str, int] = {}
    try:
        cluster.up()
        first_pids = cluster.pids()
        assert set(first_pids) == {
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        }

        os.kill(first_pids["kube-scheduler"], signal.SIGKILL)
        wait_for("the scheduler to die", lambda: not _alive(first_pids["kube-scheduler"]), 10)
        os.waitpid(first_pids["kube-scheduler"], 0)
        status = cluster.status()["kube-scheduler"]
        assert status.state == "crashed"
        assert status.log == state / "logs" / "kube-scheduler.log"
        assert status.log.exists()

        with pytest.raises(ComponentError) as err:
            cluster.start_component(
                "broken-agent",
                [sys.executable, "-c", "raise SystemExit(3)"],
                ready=lambda: False,
                timeout=30,
            )
        assert "broken-agent" in str(err.value)
        assert str(state / "logs" / "broken-agent.log") in str(err.value)

        cluster.up()  # recovers: stops the leftovers and starts afresh
        pids = cluster.pids()
        assert all(cluster.status()[n].state == "running" for n in pids)
        assert cluster.kubectl("get", "nodes").returncode == 0
    finally:
        pids = cluster.pids()
        subprocess.run(
            [sys.executable, "-m", "sftjob_devcluster.cli", "down", "--state-dir", str(state)],
            check=True,
            capture_output=True,
        )
    # The CLI killed them, but they are our children: reap them before checking.
    for pid in [*pids.values(), *first_pids.values()]:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert not [pid for pid in pids.values() if _alive(pid)]
    assert not state.exists()


def test_service_account_tokens_authenticate_and_rbac_applies(
    devcluster: DevCluster, namespace: str
) -> None:
    token = devcluster.kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    request = urllib.request.Request(
        f"{devcluster.server}/api/v1/namespaces/{namespace}/pods",
        headers={"Authorization": f"Bearer {token}"},
    )
    context = ssl.create_default_context(cafile=str(devcluster.ca_file))
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(request, context=context, timeout=10)
    # Authenticated as the service account (403, not 401), but RBAC grants it nothing.
    assert denied.value.code == 403
    assert f"system:serviceaccount:{namespace}:default" in denied.value.read().decode()
    ca = get_json(devcluster, "configmap", "kube-root-ca.crt", "-n", namespace)
    assert ca["data"]["ca.crt"] == devcluster.ca_file.read_text()
