"""Start and stop the node agent as a separate process (for the devcluster launcher,
tests and the demo)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_NODE_NAME


class AgentStartError(RuntimeError):
    pass


def agent_argv(
    kubeconfig: Path | str,
    state_dir: Path | str,
    node_name: str = DEFAULT_NODE_NAME,
    python: str | None = None,
    default_storage_class: bool = False,
) -> list[str]:
    """The command line that runs the agent: `python -m sftjob_devcluster.nodeagent ...`."""
    extra = ["--default-storage-class"] if default_storage_class else []
    return [
        python or sys.executable,
        "-m",
        "sftjob_devcluster.nodeagent",
        "--kubeconfig",
        str(kubeconfig),
        "--state-dir",
        str(state_dir),
        "--node-name",
        node_name,
        *extra,
    ]


def ready_file(state_dir: Path | str) -> Path:
    """Exists while an agent with this state dir is registered and watching pods."""
    return Path(state_dir) / "ready"


@dataclass
class AgentProcess:
    popen: subprocess.Popen[bytes]
    state_dir: Path
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (the agent kills its pods' processes), SIGKILL after `timeout`."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def start_agent_process(
    kubeconfig: Path | str,
    state_dir: Path | str,
    node_name: str = DEFAULT_NODE_NAME,
    log_path: Path | str | None = None,
    timeout: float = 60,
    default_storage_class: bool = False,
) -> AgentProcess:
    """Start the agent and wait until its node is registered and it watches pods."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    ready = ready_file(state)
    ready.unlink(missing_ok=True)
    log = Path(log_path) if log_path else state / "agent.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        popen = subprocess.Popen(
            agent_argv(kubeconfig, state, node_name, default_storage_class=default_storage_class),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ),
        )
    proc = AgentProcess(popen, state, log)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if popen.poll() is not None:
            raise AgentStartError(
                f"node agent exited with code {popen.returncode} during startup; log: {log}"
            )
        if time.monotonic() > deadline:
            proc.stop(5)
            raise AgentStartError(f"node agent not ready after {timeout:.0f}s; log: {log}")
        time.sleep(0.1)
    return proc
