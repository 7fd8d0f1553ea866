"""`helm install` into the devcluster runs the chart's own Deployment: the local node agent
runs the operator's pod as a local process (the image mapped to its entry point by the
agent's image table), with the chart's ServiceAccount token, probes, args and ports. Then
an SFTJob to Succeeded on kwok, `helm upgrade` (new watchNamespaces and args, so a new pod)
that leaves existing jobs untouched, and `helm uninstall` that keeps the CRD and SFTJobs.

The operator watches only this test's namespaces (`--set watchNamespaces`), so it never
touches the SFTJobs of other tests sharing the cluster. The cluster-scoped admission
policies are created by the release unless another test already installed them (then the
release runs with policies.create=false, the chart's mode for a second release).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sftjob_devcluster.nodeagent import container_log_path, container_pid

from tests.integration.test_helm_chart import CHART, helm, run_helm, set_args  # noqa: F401
from tests.operator_fixtures import apply, children, get_sft, sftjob, status
from tests.polling import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VALUES_LOCAL = ROOT / "devcluster" / "values-local.yaml"
POLICIES = ("sftjob-trainer-progress", "sftjob-spec-rules")


@dataclass
class Release:
    helm: Path
    devcluster: Any
    name: str
    namespace: str
    base: list[str]  # --set arguments every install and upgrade repeats

    @property
    def fullname(self) -> str:
        return f"{self.name}-sftjob-operator"

    def helm_run(self, verb: str, *values: str) -> None:
        run_helm(
            self.helm, verb, self.name, str(CHART), "-n", self.namespace,
            "-f", str(VALUES_LOCAL), *self.base, *values, "--wait", "--timeout", "180s",
        )  # fmt: skip

    def pods(self) -> list[dict[str, Any]]:
        out = self.devcluster.kubectl(
            "get", "pods", "-n", self.namespace, "-l",
            f"app.kubernetes.io/instance={self.name}", "-o", "json",
        )  # fmt: skip
        return [
            p for p in json.loads(out.stdout)["items"] if not p["metadata"].get("deletionTimestamp")
        ]

    def running_pods(self) -> list[dict[str, Any]]:
        return [p for p in self.pods() if (p.get("status") or {}).get("phase") == "Running"]

    def lease_holder(self) -> str:
        out = self.devcluster.kubectl(
            "get", "lease", self.fullname, "-n", self.namespace, "-o", "json", check=False
        )
        if out.returncode != 0:
            return ""
        return str(json.loads(out.stdout)["spec"].get("holderIdentity") or "")


def holder_pod(identity: str) -> str:
    """The pod of a Lease holder: its identity is `<pod name>_<per-process suffix>`."""
    return identity.rsplit("_", 1)[0]


def policies_exist(devcluster: Any) -> bool:
    out = devcluster.kubectl(
        "get", "validatingadmissionpolicies", *POLICIES, "-o", "name", check=False
    )
    return out.returncode == 0


@pytest.fixture
def release_factory(
    helm: Path,  # noqa: F811
    devcluster: Any,
    local_node: Path,
    namespace: str,
) -> Iterator[Any]:
    made: list[Release] = []

    def make(**values: Any) -> Release:
        name = f"s{uuid.uuid4().hex[:5]}"
        base = set_args({"watchNamespaces": [namespace], **values})
        if policies_exist(devcluster):
            base += ["--set", "policies.create=false"]
        rel = Release(helm, devcluster, name, f"{namespace[:50]}-op", base)
        made.append(rel)
        rel.helm_run("install", "--create-namespace")
        return rel

    yield make
    for rel in made:
        run_helm(helm, "uninstall", rel.name, "-n", rel.namespace, "--wait", check=False)
        devcluster.kubectl("delete", "namespace", rel.namespace, "--wait=false", check=False)


def operator_log(local_node: Path, pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    path = container_log_path(local_node, meta["namespace"], meta["name"], "operator")
    return path.read_text() if path.exists() else ""


def wait_succeeded(devcluster: Any, namespace: str, name: str) -> None:
    wait_for(
        f"SFTJob {name} to succeed",
        lambda: status(devcluster, namespace, name).get("phase") == "Succeeded",
        timeout=120,
    )


def test_helm_install_upgrade_uninstall_on_the_local_node(
    devcluster: Any, kube: Any, local_node: Path, namespace: str, release_factory: Any
) -> None:
    rel = release_factory()
    # --wait returned: the Deployment's pod runs on the local node, as a local process.
    (pod,) = rel.running_pods()
    assert pod["spec"]["nodeName"] == "local-cpu"
    (container,) = pod["status"]["containerStatuses"]
    assert container["ready"] and container["restartCount"] == 0
    # The image table said which entry point stands for the image, and says so.
    assert container["imageID"].startswith("local://")
    assert container["imageID"].endswith("/sftjob-operator")
    # The chart's ServiceAccount, through the token the apiserver projected into the pod.
    assert pod["spec"]["serviceAccountName"] == rel.fullname
    assert any("serviceAccountToken" in str(v) for v in pod["spec"]["volumes"])
    # $(POD_NAME) in the args came from the downward API: the pod holds the Lease by name.
    wait_for(
        "the pod to hold the Lease",
        lambda: holder_pod(rel.lease_holder()) == pod["metadata"]["name"],
    )

    apply(devcluster, sftjob("first", namespace, gpusPerNode=0))
    wait_succeeded(devcluster, namespace, "first")
    (job,) = children(kube, namespace, "first", "Job")
    before = get_sft(devcluster, namespace, "first")
    assert before is not None

    # Upgrade: a second watched namespace and a new flag: new args, so a new pod.
    other = f"{namespace[:55]}-b"
    devcluster.kubectl("create", "namespace", other)
    try:
        rel.helm_run(
            "upgrade",
            *set_args(
                {"watchNamespaces": [namespace, other], "extraArgs": ["--straggler-grace", "120"]}
            ),
        )
        wait_for(
            "the old pod to go",
            lambda: (
                [p["metadata"]["name"] for p in rel.pods()] != [pod["metadata"]["name"]]
                and len(rel.pods()) == 1
            ),
        )
        (new_pod,) = rel.pods()
        assert new_pod["metadata"]["name"] != pod["metadata"]["name"]
        args = new_pod["spec"]["containers"][0]["args"]
        assert args[:4] == ["--namespace", namespace, "--namespace", other]
        assert args[-2:] == ["--straggler-grace", "120"]
        wait_for(
            "the new pod to hold the Lease",
            lambda: holder_pod(rel.lease_holder()) == new_pod["metadata"]["name"],
        )
        apply(devcluster, sftjob("second", other, gpusPerNode=0))
        wait_succeeded(devcluster, other, "second")
        # The existing job was left as it was: not a single write, the same child Job.
        after = get_sft(devcluster, namespace, "first")
        assert after is not None
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        (job_after,) = children(kube, namespace, "first", "Job")
        assert job_after.metadata.uid == job.metadata.uid

        # Uninstall: the operator goes, the CRD and the users' SFTJobs stay.
        run_helm(rel.helm, "uninstall", rel.name, "-n", rel.namespace, "--wait")
        wait_for("the operator's pods to go", lambda: not rel.pods())
        gone = devcluster.kubectl(
            "get", "deployment", rel.fullname, "-n", rel.namespace, check=False
        )
        assert gone.returncode != 0
        devcluster.kubectl("get", "crd", "sftjobs.sftjob.dev")
        assert get_sft(devcluster, namespace, "first") is not None
        assert get_sft(devcluster, other, "second") is not None
    finally:
        devcluster.kubectl("delete", "namespace", other, "--wait=false", check=False)


def lease_holder(kube: Any, rel: Release) -> str:
    from kubernetes import client

    try:
        lease = client.CoordinationV1Api(kube).read_namespaced_lease(rel.fullname, rel.namespace)
    except client.ApiException:
        return ""
    return str(lease.spec.holder_identity or "")


def test_two_replicas_run_one_active_operator_and_fail_over(
    devcluster: Any, kube: Any, local_node: Path, namespace: str, release_factory: Any
) -> None:
    """replicas: 2 on the local node (each pod in a network namespace of its own, so both
    listen on the chart's ports). The active replica is killed (SIGKILL, no chance to
    release the Lease) while 20 SFTJobs are being created: the standby takes over, every
    job gets exactly one Job and reaches Succeeded. Then the new leader's pod is deleted
    (a clean stop, which releases the Lease). Both takeover times are printed."""
    rel = release_factory(replicas=2)
    pods = wait_for(
        "two Running operator pods", lambda: len(rel.running_pods()) == 2 and rel.running_pods()
    )
    leader_id = wait_for("a Lease holder", lambda: lease_holder(kube, rel))
    leader_name = holder_pod(leader_id)
    (leader,) = [p for p in pods if p["metadata"]["name"] == leader_name]
    (standby,) = [p for p in pods if p["metadata"]["name"] != leader_name]
    wait_for(
        "the standby to say it stands by",
        lambda: "standing by" in operator_log(local_node, standby),
    )

    names = [f"j{i:02d}" for i in range(20)]
    killed_at = 0.0
    for i, name in enumerate(names):
        apply(devcluster, sftjob(name, namespace, gpusPerNode=0))
        if i == 4:
            pid = container_pid(local_node, leader["metadata"]["uid"], "operator")
            assert pid is not None, "the leader's process is not running"
            os.killpg(pid, signal.SIGKILL)
            killed_at = time.monotonic()
    holder = wait_for(
        "the standby to take the Lease over",
        lambda: (h := lease_holder(kube, rel)) != leader_id and h,
        timeout=60,
        interval=0.1,
    )
    takeover = time.monotonic() - killed_at
    assert holder_pod(holder) == standby["metadata"]["name"]
    wait_for(
        "a Job for every SFTJob",
        lambda: all(children(kube, namespace, n, "Job") for n in names),
        timeout=60,
        interval=0.2,
    )
    all_reconciled = time.monotonic() - killed_at
    for name in names:
        wait_succeeded(devcluster, namespace, name)
    duplicates = {n: [j.metadata.name for j in children(kube, namespace, n, "Job")] for n in names}
    assert duplicates == {n: [f"{n}-a1"] for n in names}
    print(
        f"\nfailover: Lease taken over {takeover:.1f}s after SIGKILL of the leader; "
        f"all 20 SFTJobs had their Job {all_reconciled:.1f}s after it; 0 duplicates"
    )
    # The killed replica comes back (restartPolicy Always) and stands by.
    wait_for(
        "the killed replica to restart as the standby",
        lambda: any(
            c["restartCount"] >= 1 and c["ready"]
            for p in rel.running_pods()
            if p["metadata"]["name"] == leader_name
            for c in p["status"]["containerStatuses"]
        ),
        timeout=90,
    )
    assert lease_holder(kube, rel) == holder
    # A clean stop (the pod deleted, as a rollout or a drain does) releases the Lease: the
    # standby takes over without waiting for it to expire.
    deleted_at = time.monotonic()
    devcluster.kubectl("delete", "pod", holder_pod(holder), "-n", rel.namespace, "--wait=false")
    successor = wait_for(
        "the standby to take the released Lease",
        lambda: (h := lease_holder(kube, rel)) not in ("", holder) and h,
        timeout=60,
        interval=0.1,
    )
    print(f"clean stop: Lease taken over {time.monotonic() - deleted_at:.1f}s after the delete")
    # The chart's liveness probe reached the operator inside its network namespace.
    (probed,) = [p for p in rel.running_pods() if p["metadata"]["name"] == holder_pod(successor)]
    wait_for(
        "a liveness probe in the leader's log",
        lambda: '"GET /healthz HTTP/1.1" 200' in operator_log(local_node, probed),
        timeout=40,
    )
