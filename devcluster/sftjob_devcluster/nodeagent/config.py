"""Settings of one node agent and the constants that identify its node."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_NODE_NAME = "local-cpu"
LOCAL_NODE_LABEL = "sftjob.dev/local-node"
LOCAL_NODE_TAINT = {"key": LOCAL_NODE_LABEL, "value": "true", "effect": "NoSchedule"}
NODE_IP = "127.0.0.1"
AGENT_VERSION = "v0.1.0-sftjob-nodeagent"
CLUSTER_DOMAIN = "cluster.local"
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
MAX_UNIX_SOCKET_PATH = 100  # sun_path holds 108 bytes, NUL included


def default_path() -> str:
    """PATH for container processes: the agent's Python first, so project scripts are found."""
    python_dir = str(Path(sys.executable).parent)
    system = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return f"{python_dir}:{system}"


@dataclass(frozen=True)
class AgentConfig:
    kubeconfig: Path
    state_dir: Path
    node_name: str = DEFAULT_NODE_NAME
    cpu: str = "16"
    memory: str = "64Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    # Lease renewal and NodeReady heartbeat.
    heartbeat_seconds: float = 10.0
    # Server-side timeout of each pod watch; the agent re-watches (or re-lists) after it.
    watch_timeout_seconds: int = 60
    # SIGTERM-to-SIGKILL grace when the agent itself stops.
    shutdown_grace_seconds: float = 5.0
    # Seconds between retries of a pod whose volumes or env cannot be prepared yet.
    retry_seconds: float = 2.0
    # First back-off before restarting a container (restartPolicy Always/OnFailure); it
    # doubles with each restart up to 300 s, as a kubelet's does.
    crash_backoff_seconds: float = 10.0
    # HOME of every container (before the pod's own env).
    home: str = os.environ.get("HOME", "/root")
    # Provision hostPath volumes for claims of StorageClass sftjob-local ...
    provision_volumes: bool = True
    # ... and make that class the cluster's default (claims without a class get it).
    default_storage_class: bool = False

    @property
    def pods_dir(self) -> Path:
        return self.state_dir / "pods"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def volumes_dir(self) -> Path:
        """Directories of provisioned PersistentVolumes."""
        return self.state_dir / "volumes"

    @property
    def run_dir(self) -> Path:
        """Pid files of running containers, to clean up after a crashed agent."""
        return self.state_dir / "run"

    @property
    def api_relay_socket(self) -> Path:
        """Where pods with a network of their own reach the API server (apirelay.py): in
        the state dir, or in /tmp when that path is too long for a Unix socket."""
        path = self.state_dir / "apiserver.sock"
        if len(str(path)) < MAX_UNIX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"sftjob-nodeagent-{digest}.sock"

    @property
    def ready_file(self) -> Path:
        """Written once the node is registered and the first pod list is in."""
        return self.state_dir / "ready"


def container_log_path(state_dir: Path, namespace: str, pod: str, container: str) -> Path:
    """Where a container's stdout and stderr go (the agent's `kubectl logs`)."""
    return state_dir / "logs" / namespace / pod / f"{container}.log"


def container_pid(state_dir: Path, pod_uid: str, container: str) -> int | None:
    """The pid of a running container's main process (its process group id), else None.

    For tests that kill a "node" process, e.g. with SIGKILL.
    """
    try:
        data = json.loads((state_dir / "run" / f"{pod_uid}-{container}.json").read_text())
        return int(data["pid"])
    except (OSError, ValueError, KeyError):
        return None
