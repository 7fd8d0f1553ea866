"""The local node's Node and Lease objects, and the heartbeat that keeps it Ready."""

from __future__ import annotations

import datetime as dt
import logging
import platform
import threading
from typing import Any

from .config import AGENT_VERSION, LOCAL_NODE_LABEL, LOCAL_NODE_TAINT, NODE_IP, AgentConfig
from .kube import MERGE, STRATEGIC, ApiError, Kube
from .podstatus import now_rfc3339

log = logging.getLogger(__name__)
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40


def node_resources(config: AgentConfig) -> dict[str, str]:
    return {
        "cpu": config.cpu,
        "memory": config.memory,
        "pods": config.pods,
        "ephemeral-storage": config.ephemeral_storage,
        "nvidia.com/gpu": "0",
    }


def node_conditions(at: str, since: str) -> list[dict[str, Any]]:
    def cond(kind: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": at,
            "lastTransitionTime": since,
        }

    return [
        cond("Ready", "True", "KubeletReady", "sftjob local node agent is posting ready status"),
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "no memory pressure"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "no PID pressure"),
    ]


def node_status(config: AgentConfig, at: str, since: str) -> dict[str, Any]:
    resources = node_resources(config)
    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": node_conditions(at, since),
        "addresses": [
            {"type": "InternalIP", "address": NODE_IP},
            {"type": "Hostname", "address": config.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": platform.release(),
            "osImage": "sftjob local node agent (processes, no images)",
            "containerRuntimeVersion": f"sftjob-nodeagent://{AGENT_VERSION}",
            "kubeletVersion": AGENT_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def node_manifest(config: AgentConfig, at: str) -> dict[str, Any]:
    """The Node: labelled and tainted so that only pods that ask for it land here."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.node_name,
            "labels": {
                LOCAL_NODE_LABEL: "true",
                "kubernetes.io/hostname": config.node_name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "local-cpu",
            },
        },
        "spec": {"taints": [dict(LOCAL_NODE_TAINT)]},
        "status": node_status(config, at, at),
    }


def micro_time(moment: dt.datetime | None = None) -> str:
    """A Lease MicroTime."""
    return (moment or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_manifest(node_name: str, node_uid: str, renew: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
            ],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": renew,
        },
    }


class NodeHeartbeat:
    """Registers the Node, then renews its Lease and Ready condition every few seconds."""

    def __init__(self, kube: Kube, config: AgentConfig) -> None:
        self.kube = kube
        self.config = config
        self._since = now_rfc3339()
        self._uid = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def node_path(self) -> str:
        return f"/api/v1/nodes/{self.config.node_name}"

    def register(self) -> None:
        """Create the Node, or take over one left by an earlier agent."""
        manifest = node_manifest(self.config, self._since)
        try:
            node = self.kube.request("POST", "/api/v1/nodes", body=manifest)
        except ApiError as err:
            if err.status != 409:
                raise
            node = self.kube.request(
                "PATCH",
                self.node_path,
                body={"metadata": manifest["metadata"]},
                content_type=STRATEGIC,
            )
        # Admission adds node.kubernetes.io/not-ready:NoSchedule to new nodes, and the
        # devcluster runs no node-lifecycle controller to lift it once the node is Ready:
        # set the taints to exactly ours.
        self.kube.request(
            "PATCH", self.node_path, body={"spec": manifest["spec"]}, content_type=MERGE
        )
        self._uid = node["metadata"]["uid"]
        self.beat()

    def beat(self) -> None:
        status = node_status(self.config, now_rfc3339(), self._since)
        self.kube.request(
            "PATCH", f"{self.node_path}/status", body={"status": status}, content_type=STRATEGIC
        )
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{self.config.node_name}"
        try:
            self.kube.request(
                "PATCH", path, body={"spec": {"renewTime": micro_time()}}, content_type=MERGE
            )
        except ApiError as err:
            if err.status != 404:
                raise
            self.kube.request(
                "POST",
                f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases",
                body=lease_manifest(self.config.node_name, self._uid, micro_time()),
            )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="node-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.config.heartbeat_seconds):
            try:
                self.beat()
            except Exception as err:  # keep beating through API hiccups
                log.warning("node heartbeat failed: %s", err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
