"""Local node agent for the devcluster: FOR DEVELOPMENT AND TESTS ONLY.

It is NOT a kubelet. It registers one Node (default `local-cpu`, labelled and
tainted `sftjob.dev/local-node=true:NoSchedule`, 0 GPUs) and runs every pod bound
to it as plain local processes on this machine:

- no images: a container's `command` + `args` run with the agent's Python environment on
  PATH; the images the project builds stand for their ENTRYPOINT through one table
  (images.py), which also gives the operator's image a network namespace of its own;
- no isolation beyond a private mount and UTS namespace per container (for the
  pod's volume mounts, /etc/hosts and hostname): no cgroups, resource limits,
  users or PID namespaces; other pods share the host's network, so all
  pod names resolve to 127.0.0.1 and ports must not collide;
- restartPolicy Never, OnFailure and Always (restarts with a kubelet's back-off);
  liveness probes (httpGet, tcpSocket), no readiness/startup probes, sidecars,
  exec/attach/port-forward or `kubectl logs` (logs are files
  under the state dir, see `container_log_path`); ConfigMap/Secret volumes and
  tokens are written once at start, not refreshed.

Start it with `python -m sftjob_devcluster.nodeagent --kubeconfig PATH --state-dir DIR`,
with `start_agent_process(...)` (a subprocess; `.stop()` ends it and every process it
started) or in-process with `NodeAgent(AgentConfig(...)).start()` / `.stop()`.
Run it as root: it uses `unshare` and bind mounts.
"""

from __future__ import annotations

from .config import (
    DEFAULT_NODE_NAME,
    LOCAL_NODE_LABEL,
    LOCAL_NODE_TAINT,
    AgentConfig,
    container_log_path,
    container_pid,
)
from .launcher import AgentProcess, AgentStartError, agent_argv, ready_file, start_agent_process

__all__ = [
    "DEFAULT_NODE_NAME",
    "LOCAL_NODE_LABEL",
    "LOCAL_NODE_TAINT",
    "AgentConfig",
    "AgentProcess",
    "AgentStartError",
    "NodeAgent",
    "agent_argv",
    "container_log_path",
    "container_pid",
    "ready_file",
    "start_agent_process",
]


def __getattr__(name: str) -> object:
    # NodeAgent pulls in the kubernetes client; import it only when asked for.
    if name == "NodeAgent":
        from .agent import NodeAgent

        return NodeAgent
    raise AttributeError(name)
