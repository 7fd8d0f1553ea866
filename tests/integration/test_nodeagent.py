"""The local node agent against the real devcluster: pods run as local processes."""

from __future__ import annotations

import json
import os
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_devcluster.nodeagent import (
    AgentProcess,
    container_log_path,
    container_pid,
    start_agent_process,
)

from tests.polling import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root (unshare, mounts)"),
]

NODE = "nodeagent-test"
# Mount paths live under /tmp/sftjob-na: a mount point that does not exist is created
# on the host (empty), so tests keep them out of the way.


@pytest.fixture(scope="module")
def agent(devcluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    state = tmp_path_factory.mktemp("nodeagent")
    proc = start_agent_process(devcluster.kubeconfig, state, node_name=NODE)
    try:
        yield proc
    finally:
        proc.stop()
        devcluster.kubectl("delete", "node", NODE, "--wait=false", check=False)


def apply(devcluster: Any, *objects: dict[str, Any]) -> None:
    devcluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))


def get(devcluster: Any, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    ns = ["-n", namespace] if namespace else []
    out = devcluster.kubectl("get", kind, name, *ns, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def local_pod_spec(command: list[str], **extra: Any) -> dict[str, Any]:
    """A pod spec that tolerates the local node's taint and selects the test node."""
    spec = {
        "restartPolicy": "Never",
        "nodeSelector": {"sftjob.dev/local-node": "true", "kubernetes.io/hostname": NODE},
        "tolerations": [{"key": "sftjob.dev/local-node", "operator": "Exists"}],
        "terminationGracePeriodSeconds": 5,
        "containers": [{"name": "main", "image": "unused", "command": command}],
    }
    spec.update(extra)
    return spec


def pod(name: str, namespace: str, spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": spec,
    }


def finished_pod(devcluster: Any, agent: AgentProcess, name: str, namespace: str) -> dict[str, Any]:
    def explain() -> str:
        log = container_log_path(agent.state_dir, namespace, name, "main")
        logs = log.read_text() if log.exists() else "(no container log)"
        return (
            f"pod: {json.dumps(get(devcluster, 'pod', name, namespace).get('status'), indent=1)}\n"
            f"container log:\n{logs}\nagent log tail:\n{agent.log_path.read_text()[-3000:]}"
        )

    return wait_for(
        f"pod {name} to finish",
        lambda: (
            (p := get(devcluster, "pod", name, namespace))
            and p.get("status", {}).get("phase") in ("Succeeded", "Failed")
            and p
        ),
        explain=explain,
    )


def terminated(pod: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return state


def test_node_is_registered_ready_and_tainted(devcluster: Any, agent: AgentProcess) -> None:
    node = get(devcluster, "node", NODE)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert node["metadata"]["labels"]["sftjob.dev/local-node"] == "true"
    assert node["spec"]["taints"] == [
        {"key": "sftjob.dev/local-node", "value": "true", "effect": "NoSchedule"}
    ]
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "0"
    lease = get(devcluster, "lease", NODE, "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == NODE


def test_pod_with_configmap_secret_downward_api_and_claim_succeeds(
    devcluster: Any, agent: AgentProcess, namespace: str, tmp_path: Path
) -> None:
    host_dir = tmp_path / "pv"
    pv_name = f"{namespace}-pv"
    script = textwrap.dedent(
        """
        import os
        greeting = open("/tmp/sftjob-na/cfg/greeting").read()
        line = f"{greeting} {os.environ['TOKEN']} {os.environ['INDEX']} {os.environ['POD']}"
        open("/tmp/sftjob-na/scratch/tmp", "w").write(line)
        try:
            open("/tmp/sftjob-na/cfg/new", "w")
            ro = "writable"
        except OSError:
            ro = "read-only"
        with open("/tmp/sftjob-na/out/result.txt", "w") as f:
            f.write(open("/tmp/sftjob-na/scratch/tmp").read() + " " + ro)
        """
    )
    spec = local_pod_spec(
        ["python", "-c", script],
        volumes=[
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "scratch", "emptyDir": {"medium": "Memory"}},
            {"name": "out", "persistentVolumeClaim": {"claimName": "data"}},
        ],
    )
    spec["containers"][0]["volumeMounts"] = [
        {"name": "cfg", "mountPath": "/tmp/sftjob-na/cfg", "readOnly": True},
        {"name": "scratch", "mountPath": "/tmp/sftjob-na/scratch"},
        {"name": "out", "mountPath": "/tmp/sftjob-na/out"},
    ]
    spec["containers"][0]["env"] = [
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
        {
            "name": "INDEX",
            "valueFrom": {
                "fieldRef": {
                    "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                }
            },
        },
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    ]
    apply(
        devcluster,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": namespace},
            "data": {"greeting": "hello"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "sec", "namespace": namespace},
            "stringData": {"token": "s3cret"},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "hostPath": {"path": str(host_dir), "type": "DirectoryOrCreate"},
                "claimRef": {"namespace": namespace, "name": "data"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": namespace},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": pv_name,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        pod(
            "reader",
            namespace,
            spec,
            annotations={"batch.kubernetes.io/job-completion-index": "3"},
        ),
    )
    try:
        done = finished_pod(devcluster, agent, "reader", namespace)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        state = terminated(done)
        assert (state["exitCode"], state["reason"]) == (0, "Completed")
        assert state["startedAt"] and state["finishedAt"]
        assert done["status"]["podIP"] == "127.0.0.1"
        assert (host_dir / "result.txt").read_text() == "hello s3cret 3 reader read-only"
    finally:
        devcluster.kubectl("delete", "pod", "reader", "-n", namespace, "--wait=false", check=False)
        devcluster.kubectl("delete", "pv", pv_name, "--wait=false", check=False)


def test_failing_command_reports_exit_code_and_termination_message(
    devcluster: Any, agent: AgentProcess, namespace: str
) -> None:
    command = ["sh", "-c", "echo 'bad input: x' > /dev/termination-log; echo oops; exit 3"]
    apply(devcluster, pod("fails", namespace, local_pod_spec(command)))
    done = finished_pod(devcluster, agent, "fails", namespace)
    assert done["status"]["phase"] == "Failed"
    state = terminated(done)
    assert (state["exitCode"], state["reason"]) == (3, "Error")
    assert state["message"].strip() == "bad input: x"
    log = container_log_path(agent.state_dir, namespace, "fails", "main")
    assert log.read_text() == "oops\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_deleting_a_running_pod_kills_its_process(
    devcluster: Any, agent: AgentProcess, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import os, socket, time
        open("/tmp/sftjob-na/pid/pid", "w").write(str(os.getpid()))
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", {port}))
        s.listen()
        while True:
            s.accept()[0].close()
        """
    )
    spec = local_pod_spec(
        ["python", "-c", script],
        volumes=[{"name": "pid", "hostPath": {"path": str(tmp_path), "type": "Directory"}}],
    )
    spec["containers"][0]["volumeMounts"] = [{"name": "pid", "mountPath": "/tmp/sftjob-na/pid"}]
    apply(devcluster, pod("server", namespace, spec))
    wait_for(f"the pod to listen on port {port}", lambda: accepts(port))
    running = get(devcluster, "pod", "server", namespace)
    assert running["status"]["phase"] == "Running"
    assert "running" in running["status"]["containerStatuses"][0]["state"]
    pid = int((tmp_path / "pid").read_text())
    assert Path(f"/proc/{pid}").exists()

    devcluster.kubectl("delete", "pod", "server", "-n", namespace, "--wait=false")
    wait_for("the pod object to be gone", lambda: not get(devcluster, "pod", "server", namespace))
    assert not accepts(port)
    assert not Path(f"/proc/{pid}").exists()


def test_projected_token_authenticates_as_the_pods_service_account(
    devcluster: Any, agent: AgentProcess, namespace: str
) -> None:
    # An in-cluster client: KUBERNETES_SERVICE_HOST/PORT, token and ca.crt from the
    # kube-api-access volume that admission added to the pod.
    script = textwrap.dedent(
        """
        import json, os, ssl, urllib.request
        sa = "/var/run/secrets/kubernetes.io/serviceaccount"
        token = open(f"{sa}/token").read()
        ctx = ssl.create_default_context(cafile=f"{sa}/ca.crt")
        host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
        body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        req = urllib.request.Request(
            f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            data=body.encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        user = json.load(urllib.request.urlopen(req, context=ctx))["status"]["userInfo"]
        pod = user.get("extra", {}).get("authentication.kubernetes.io/pod-name", ["?"])[0]
        ns = open(f"{sa}/namespace").read()
        open("/dev/termination-log", "w").write(f"{user['username']} {pod} {ns}")
        """
    )
    apply(devcluster, pod("whoami", namespace, local_pod_spec(["python", "-c", script])))
    done = finished_pod(devcluster, agent, "whoami", namespace)
    assert done["status"]["phase"] == "Succeeded", terminated(done).get("message")
    assert terminated(done)["message"] == (
        f"system:serviceaccount:{namespace}:default whoami {namespace}"
    )


def test_indexed_job_pods_rendezvous_by_subdomain_hostname(
    devcluster: Any, agent: AgentProcess, namespace: str
) -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import os, socket, time
        index = os.environ["JOB_COMPLETION_INDEX"]
        if index == "0":
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", {port}))
            s.listen()
            conn, _ = s.accept()
            message = conn.recv(1024).decode()
        else:
            deadline = time.time() + 60
            while True:
                try:
                    conn = socket.create_connection(("rdzv-0.rdzv", {port}), timeout=5)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            conn.sendall(f"hello from {{socket.gethostname()}}".encode())
            message = "sent"
        conn.close()
        open("/dev/termination-log", "w").write(message)
        """
    )
    template_spec = local_pod_spec(["python", "-c", script], subdomain="rdzv")
    apply(
        devcluster,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "rdzv", "namespace": namespace},
            "spec": {
                "clusterIP": "None",
                "selector": {"batch.kubernetes.io/job-name": "rdzv"},
                "ports": [{"port": port}],
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "rdzv", "namespace": namespace},
            "spec": {
                "completionMode": "Indexed",
                "completions": 2,
                "parallelism": 2,
                "backoffLimit": 0,
                "template": {"spec": template_spec},
            },
        },
    )

    def pods() -> list[dict[str, Any]]:
        out = devcluster.kubectl(
            "get", "pods", "-n", namespace, "-l", "batch.kubernetes.io/job-name=rdzv", "-o", "json"
        )
        items: list[dict[str, Any]] = json.loads(out.stdout)["items"]
        return items

    def complete() -> bool:
        job = get(devcluster, "job", "rdzv", namespace)
        conds = {c["type"]: c["status"] for c in job.get("status", {}).get("conditions", [])}
        if conds.get("Failed") == "True":
            pytest.fail(f"job failed: {json.dumps([p['status'] for p in pods()], indent=1)}")
        return conds.get("Complete") == "True"

    wait_for(
        "the Indexed Job to complete",
        complete,
        explain=lambda: (
            json.dumps([p.get("status") for p in pods()], indent=1)
            + agent.log_path.read_text()[-3000:]
        ),
    )
    by_index = {
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods()
    }
    assert by_index["0"]["spec"]["nodeName"] == NODE
    assert terminated(by_index["0"])["message"] == "hello from rdzv-1"
    assert terminated(by_index["1"])["message"] == "sent"


def test_restart_policy_always_restarts_a_container_after_a_back_off(
    devcluster: Any, agent: AgentProcess, namespace: str
) -> None:
    spec = local_pod_spec(["sh", "-c", "exit 3"], restartPolicy="Always")
    apply(devcluster, pod("always", namespace, spec))

    def restarted() -> dict[str, Any] | None:
        p = get(devcluster, "pod", "always", namespace)
        statuses = (p.get("status") or {}).get("containerStatuses") or []
        return p if statuses and statuses[0].get("restartCount", 0) >= 1 else None

    p = wait_for("the container to be restarted", restarted, timeout=60)
    (container,) = p["status"]["containerStatuses"]
    assert container["lastState"]["terminated"]["exitCode"] == 3
    assert p["status"]["phase"] == "Running"  # Always: the pod never ends on its own


def test_a_failed_liveness_probe_restarts_the_container(
    devcluster: Any, agent: AgentProcess, namespace: str
) -> None:
    """The container serves its probe's port for a moment, then stops answering: after
    failureThreshold failed probes the agent restarts it."""
    port = free_port()
    script = (
        "import socket, time\n"
        f"s = socket.create_server(('127.0.0.1', {port}))\n"
        "s.settimeout(0.2)\n"
        "end = time.monotonic() + 2\n"
        "while time.monotonic() < end:\n"
        "    try: s.accept()[0].close()\n"
        "    except OSError: pass\n"
        "s.close(); time.sleep(600)\n"
    )
    spec = local_pod_spec([sys.executable, "-c", script], restartPolicy="Always")
    spec["containers"][0]["livenessProbe"] = {
        "tcpSocket": {"port": port},
        "periodSeconds": 1,
        "failureThreshold": 2,
    }
    apply(devcluster, pod("probed", namespace, spec))

    def restarted() -> dict[str, Any] | None:
        p = get(devcluster, "pod", "probed", namespace)
        statuses = (p.get("status") or {}).get("containerStatuses") or []
        return p if statuses and statuses[0].get("restartCount", 0) >= 1 else None

    wait_for("the unhealthy container to be restarted", restarted, timeout=60)
    assert "failed its liveness probe" in agent.log_path.read_text()


def test_in_process_agent_stop_kills_its_pods_and_reports_them(
    devcluster: Any, namespace: str, tmp_path: Path
) -> None:
    from sftjob_devcluster.nodeagent import AgentConfig, NodeAgent

    node = "nodeagent-inproc"
    local = NodeAgent(
        AgentConfig(kubeconfig=devcluster.kubeconfig, state_dir=tmp_path, node_name=node)
    )
    local.start()
    try:
        local.wait_ready(60)
        port = free_port()
        script = (
            "import socket\n"
            "s = socket.socket()\n"
            f"s.bind(('127.0.0.1', {port}))\n"
            "s.listen()\n"
            "while True: s.accept()[0].close()\n"
        )
        spec = local_pod_spec(["python", "-c", script])
        spec["nodeSelector"]["kubernetes.io/hostname"] = node
        apply(devcluster, pod("sleeper", namespace, spec))
        wait_for(f"the pod to listen on port {port}", lambda: accepts(port))
        uid = get(devcluster, "pod", "sleeper", namespace)["metadata"]["uid"]
        pid = container_pid(tmp_path, uid, "main")
        assert pid is not None and Path(f"/proc/{pid}").exists()
    finally:
        local.stop()
        devcluster.kubectl("delete", "node", node, "--wait=false", check=False)
    assert not accepts(port)
    assert not Path(f"/proc/{pid}").exists()
    status = get(devcluster, "pod", "sleeper", namespace)["status"]
    assert status["phase"] == "Failed"
    assert "agent stopped" in status["message"]


def test_pod_waits_pending_for_an_unbound_claim_then_runs(
    devcluster: Any, agent: AgentProcess, namespace: str, tmp_path: Path
) -> None:
    pv_name = f"{namespace}-late"
    # nodeName set directly: the scheduler (which would hold the pod back) is bypassed.
    spec = local_pod_spec(
        ["sh", "-c", "echo done > /tmp/sftjob-na/out/flag"],
        nodeName=NODE,
        volumes=[{"name": "out", "persistentVolumeClaim": {"claimName": "late"}}],
    )
    spec["containers"][0]["volumeMounts"] = [{"name": "out", "mountPath": "/tmp/sftjob-na/out"}]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "late", "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": pv_name,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    apply(devcluster, claim, pod("waits", namespace, spec))

    def waiting_message() -> str:
        statuses = get(devcluster, "pod", "waits", namespace).get("status", {})
        for status in statuses.get("containerStatuses") or []:
            message: str = status["state"].get("waiting", {}).get("message", "")
            if "not bound" in message:
                return message
        return ""

    message = wait_for("the pod to report the unbound claim", waiting_message)
    assert "spec.volumes[0].persistentVolumeClaim.claimName" in message
    assert get(devcluster, "pod", "waits", namespace)["status"]["phase"] == "Pending"

    apply(
        devcluster,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "hostPath": {"path": str(tmp_path), "type": "Directory"},
                "claimRef": {"namespace": namespace, "name": "late"},
            },
        },
    )
    try:
        done = finished_pod(devcluster, agent, "waits", namespace)
        assert done["status"]["phase"] == "Succeeded"
        assert (tmp_path / "flag").read_text() == "done\n"
    finally:
        devcluster.kubectl("delete", "pod", "waits", "-n", namespace, "--wait=false", check=False)
        devcluster.kubectl("delete", "pv", pv_name, "--wait=false", check=False)


def test_claims_of_the_local_storage_class_are_provisioned_and_reclaimed(
    devcluster: Any, agent: AgentProcess, namespace: str
) -> None:
    spec = local_pod_spec(
        ["sh", "-c", "echo kept > /tmp/sftjob-na/out/f"],
        volumes=[{"name": "out", "persistentVolumeClaim": {"claimName": "auto"}}],
    )
    spec["containers"][0]["volumeMounts"] = [{"name": "out", "mountPath": "/tmp/sftjob-na/out"}]
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "auto", "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": "sftjob-local",
            "resources": {"requests": {"storage": "2Gi"}},
        },
    }
    apply(devcluster, claim, pod("writer", namespace, spec))
    done = finished_pod(devcluster, agent, "writer", namespace)
    assert done["status"]["phase"] == "Succeeded"
    bound = get(devcluster, "pvc", "auto", namespace)
    assert bound["status"]["phase"] == "Bound"
    pv = get(devcluster, "pv", bound["spec"]["volumeName"])
    host_dir = Path(pv["spec"]["hostPath"]["path"])
    assert host_dir.is_relative_to(agent.state_dir)
    assert (host_dir / "f").read_text() == "kept\n"

    devcluster.kubectl("delete", "pod", "writer", "-n", namespace, "--wait=false")
    devcluster.kubectl("delete", "pvc", "auto", "-n", namespace, "--wait=false")
    wait_for(
        "the released volume to be deleted",
        lambda: not get(devcluster, "pv", pv["metadata"]["name"]),
    )
    assert not host_dir.exists()


def test_a_killed_agent_takes_its_processes_along_and_its_successor_fails_the_pod(
    devcluster: Any, namespace: str, tmp_path: Path
) -> None:
    node = "nodeagent-crash"
    first = start_agent_process(devcluster.kubeconfig, tmp_path, node_name=node)
    second = None
    try:
        spec = local_pod_spec(["python", "-c", "import time; time.sleep(600)"])
        spec["nodeSelector"]["kubernetes.io/hostname"] = node
        apply(devcluster, pod("orphan", namespace, spec))
        wait_for(
            "the pod to run",
            lambda: (
                get(devcluster, "pod", "orphan", namespace).get("status", {}).get("phase")
                == "Running"
            ),
        )
        uid = get(devcluster, "pod", "orphan", namespace)["metadata"]["uid"]
        pid = container_pid(tmp_path, uid, "main")
        assert pid is not None
        first.popen.kill()  # SIGKILL: no cleanup by the agent itself
        first.popen.wait()
        wait_for("the container to die with its agent", lambda: not Path(f"/proc/{pid}").exists())

        second = start_agent_process(devcluster.kubeconfig, tmp_path, node_name=node)
        done = finished_pod(devcluster, second, "orphan", namespace)
        assert done["status"]["phase"] == "Failed"
        assert done["status"]["reason"] == "NodeAgentRestarted"
        assert "lost" in done["status"]["message"]
    finally:
        first.stop()
        if second is not None:
            second.stop()
        devcluster.kubectl("delete", "node", node, "--wait=false", check=False)
