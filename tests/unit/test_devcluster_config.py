"""Pure parts of the launcher: kwok stages, node manifests, component arguments."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import yaml
from sftjob_devcluster import args, cluster
from sftjob_devcluster.cluster import ClusterConfig, DevCluster, DevClusterError, pick_ports
from sftjob_devcluster.kubeconfig import render_kubeconfig, render_token_kubeconfig
from sftjob_devcluster.layout import Layout
from sftjob_devcluster.nodes import GPU_RESOURCE, NodeShape, node_manifests
from sftjob_devcluster.pytest_plugin import _cleanup_abandoned_sessions, namespace_name
from sftjob_devcluster.stages import COMPLETE_DELAY_ANNOTATION, FAIL_ANNOTATION, render_kwok_config

PORTS = args.Ports(
    etcd_client=1, etcd_peer=2, apiserver=3, controller_manager=4, scheduler=5, kwok=6
)


def test_kwok_config_holds_our_stages() -> None:
    docs = list(yaml.safe_load_all(render_kwok_config(complete_after=2.5)))
    assert docs[0]["kind"] == "KwokConfiguration"
    stages = {d["metadata"]["name"]: d["spec"] for d in docs[1:]}
    assert set(stages) == {"node-initialize", "pod-ready", "pod-complete", "pod-fail", "pod-delete"}
    complete = stages["pod-complete"]
    assert complete["delay"]["durationMilliseconds"] == 2500
    assert COMPLETE_DELAY_ANNOTATION in complete["delay"]["durationFrom"]["expressionFrom"]
    owner = [e for e in complete["selector"]["matchExpressions"] if "ownerReferences" in e["key"]]
    assert owner == [
        {"key": ".metadata.ownerReferences.[].kind", "operator": "In", "values": ["Job"]}
    ]
    assert "phase: Succeeded" in complete["next"]["statusTemplate"]
    assert "phase: Running" in stages["pod-ready"]["next"]["statusTemplate"]
    assert stages["pod-delete"]["next"] == {"finalizers": {"empty": True}, "delete": True}
    fail = stages["pod-fail"]
    assert "phase: Failed" in fail["next"]["statusTemplate"]
    assert {"key": f'.metadata.annotations["{FAIL_ANNOTATION}"]', "operator": "Exists"} in fail[
        "selector"
    ]["matchExpressions"]


def test_negative_complete_delay_is_rejected() -> None:
    with pytest.raises(ValueError, match=">= 0 seconds"):
        render_kwok_config(complete_after=-1)


def test_fake_gpu_nodes() -> None:
    nodes = node_manifests(NodeShape(count=3, gpus=4))
    assert [n["metadata"]["name"] for n in nodes] == ["kwok-gpu-0", "kwok-gpu-1", "kwok-gpu-2"]
    node = nodes[0]
    assert node["status"]["capacity"] == {
        "cpu": "64",
        "memory": "512Gi",
        "pods": "110",
        GPU_RESOURCE: "4",
    }
    assert node["status"]["allocatable"] == node["status"]["capacity"]
    assert node["metadata"]["labels"]["type"] == "kwok"
    assert node["metadata"]["annotations"] == {
        args.KWOK_NODE_ANNOTATION: args.KWOK_NODE_ANNOTATION_VALUE
    }
    assert "taints" not in node["spec"]


def test_cpu_only_nodes_have_no_gpu_resource() -> None:
    node = node_manifests(NodeShape(count=1, gpus=0))[0]
    assert GPU_RESOURCE not in node["status"]["capacity"]


def test_node_shape_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="nodes: -1"):
        NodeShape(count=-1)


def test_kwok_manages_only_annotated_nodes() -> None:
    argv = args.kwok_args(Path("/b"), Layout(Path("/s")), PORTS)
    assert "--manage-all-nodes=false" in argv
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in argv
    assert argv[0] == "/b/kwok"


def test_apiserver_args() -> None:
    argv = args.apiserver_args(Path("/b"), Layout(Path("/s")), PORTS)
    assert "--etcd-servers=http://127.0.0.1:1" in argv
    assert "--secure-port=3" in argv
    assert "--bind-address=127.0.0.1" in argv
    assert "--authorization-mode=RBAC" in argv
    assert "--service-account-signing-key-file=/s/pki/sa.key" in argv
    assert any(a.startswith("--service-account-issuer=https://") for a in argv)


def test_controller_manager_runs_the_controllers_we_rely_on() -> None:
    argv = args.controller_manager_args(Path("/b"), Layout(Path("/s")), PORTS)
    controllers = next(a for a in argv if a.startswith("--controllers=")).split("=", 1)[1]
    assert controllers.split(",")[0] == "*"
    assert "-node-lifecycle-controller" in controllers.split(",")
    for needed in ("job", "garbage", "ttl", "namespace", "serviceaccount"):
        assert f"-{needed}" not in controllers
    assert "--service-account-private-key-file=/s/pki/sa.key" in argv
    assert "--use-service-account-credentials=true" in argv


def test_etcd_listens_on_loopback_only() -> None:
    argv = args.etcd_args(Path("/b"), Layout(Path("/s")), PORTS)
    urls = [a.split("=", 1)[1] for a in argv if "urls=" in a]
    assert urls and all(u.startswith("http://127.0.0.1:") for u in urls)


def test_kubeconfig_refers_to_the_cluster_files() -> None:
    cfg = render_kubeconfig("https://127.0.0.1:3", Path("/ca"), Path("/c"), Path("/k"))
    assert cfg["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:3",
        "certificate-authority": "/ca",
    }
    assert cfg["users"][0]["user"] == {"client-certificate": "/c", "client-key": "/k"}
    assert cfg["current-context"] == "devcluster"


def test_token_kubeconfig_authenticates_with_the_token_in_its_namespace() -> None:
    cfg = render_token_kubeconfig("https://127.0.0.1:3", Path("/ca"), "tok", "ops", "sa")
    assert cfg["clusters"][0]["cluster"]["certificate-authority"] == "/ca"
    assert cfg["users"] == [{"name": "sa", "user": {"token": "tok"}}]
    assert cfg["contexts"][0]["context"] == {"cluster": "sa", "user": "sa", "namespace": "ops"}
    assert cfg["current-context"] == "sa"


def test_pick_ports_are_distinct() -> None:
    ports = pick_ports()
    values = list(ports.__dict__.values())
    assert len(set(values)) == len(values)


def test_port_in_use_names_the_component_and_the_flag(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        cluster = DevCluster(
            ClusterConfig(state_dir=tmp_path / "c", apiserver_port=port), bin_dir=tmp_path
        )
        with pytest.raises(
            DevClusterError, match=rf"kube-apiserver: port 127.0.0.1:{port}.*--apiserver-port"
        ):
            cluster.up()


def test_status_of_a_cluster_that_never_ran(tmp_path: Path) -> None:
    cluster = DevCluster(ClusterConfig(state_dir=tmp_path / "none"), bin_dir=tmp_path)
    assert {s.state for s in cluster.status().values()} == {"stopped"}
    assert cluster.down() == []
    with pytest.raises(DevClusterError, match="not up"):
        _ = cluster.server


@pytest.mark.parametrize(
    ("test_name", "prefix"),
    [("test_x[param-1]", "t-test-x-param-1-"), ("___", "t-"), ("A" * 90, "t-" + "a" * 40 + "-")],
)
def test_namespace_names_are_valid_labels(test_name: str, prefix: str) -> None:
    name = namespace_name(test_name)
    assert name.startswith(prefix)
    assert len(name) <= 63
    assert name.replace("-", "").isalnum() and name == name.lower()


def test_clusters_of_dead_pytest_sessions_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFTJOB_DEVCLUSTER_CACHE", str(tmp_path))
    clusters = tmp_path / "clusters"
    dead = clusters / "pytest-999999999"
    (dead / "logs").mkdir(parents=True)
    (clusters / "pytest-999999998.lock").write_text("")
    alive = clusters / f"pytest-{os.getpid()}"
    alive.mkdir()
    other = clusters / "mine"
    other.mkdir()
    _cleanup_abandoned_sessions()
    assert sorted(p.name for p in clusters.iterdir()) == sorted([alive.name, "mine"])


@pytest.mark.parametrize("name", ["dev", "pytest-123", "a"])
def test_cluster_names_accepted(name: str) -> None:
    assert ClusterConfig(name=name).name == name


@pytest.mark.parametrize("name", ["", "Dev", "x.lock", "../etc", "-x"])
def test_cluster_names_that_are_not_directory_safe_are_refused(name: str) -> None:
    with pytest.raises(DevClusterError, match="lowercase letters"):
        ClusterConfig(name=name)


def test_the_apiserver_logs_writes_to_the_cluster_state() -> None:
    argv = args.apiserver_args(Path("/b"), Layout(Path("/s")), PORTS)
    assert "--audit-policy-file=/s/audit-policy.yaml" in argv
    assert "--audit-log-path=/s/logs/audit.log" in argv


def test_components_listen_below_the_kernels_ephemeral_ports() -> None:
    # A port the kernel may hand out as a client's source port could be taken while a
    # component restarts (the apiserver restart tests): listen below that range.
    assert cluster.listen_port_ceiling("32768\t60999\n") == 32768
    assert cluster.listen_port_ceiling("") == 32768
    ceiling = cluster.listen_port_ceiling(cluster.EPHEMERAL_RANGE_FILE.read_text())
    ports = {cluster.free_port() for _ in range(20)}
    assert all(cluster.LISTEN_PORT_FLOOR <= p < ceiling for p in ports), ports


def test_a_restart_waits_until_the_killed_listener_is_gone() -> None:
    import threading
    import time

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    assert not cluster.port_bindable(port)
    started = time.monotonic()
    cluster.wait_port_released(port, timeout=0.3)  # still held: gives up at the timeout
    assert time.monotonic() - started >= 0.3
    threading.Timer(0.3, listener.close).start()
    started = time.monotonic()
    cluster.wait_port_released(port, timeout=10)
    assert cluster.port_bindable(port)
    assert time.monotonic() - started < 5
