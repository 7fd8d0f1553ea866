"""Container processes: started in a private mount+UTS namespace through execshim,
one process group each, stdout/stderr to a log file, killed by group.

A container's processes die with it, as in a real runtime's PID namespace: each carries
CONTAINER_MARKER in its environment, so a process that left the group (a new session,
like the trainer's `accelerate launch`) is killed too."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .podstatus import exit_code_of
from .volumes import BindMount

log = logging.getLogger(__name__)
SHIM = Path(__file__).with_name("execshim.py")
UNSHARE = ("unshare", "--mount", "--uts", "--propagation", "private")
CONTAINER_MARKER = "SFTJOB_NODE_AGENT_CONTAINER"


@dataclass(frozen=True)
class ApiRelaySpec:
    port: int
    socket: str


@dataclass(frozen=True)
class ExecSpec:
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str
    hostname: str
    mounts: Sequence[BindMount]
    start_error_file: str
    # A network namespace of its own, with the API server's port relayed to this agent
    # socket (images.py, own_network); None: the host's network.
    api_relay: ApiRelaySpec | None = None

    @property
    def unshare(self) -> list[str]:
        return [*UNSHARE, *(["--net"] if self.api_relay else []), "--"]

    def to_json(self) -> str:
        relay = self.api_relay
        return json.dumps(
            {
                "apiRelay": {"port": relay.port, "socket": relay.socket} if relay else None,
                "argv": list(self.argv),
                "env": dict(self.env),
                "cwd": self.cwd,
                "hostname": self.hostname,
                "mounts": [
                    {"source": m.source, "target": m.target, "readOnly": m.read_only}
                    for m in self.mounts
                ],
                "startErrorFile": self.start_error_file,
            },
            indent=1,
        )


def proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: tells a live process from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int, started: str) -> bool:
    """The process still runs (a zombie has exited and only waits for its parent)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == started and fields[0] != "Z"


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def marked_processes(marker: str) -> list[int]:
    """The pids whose environment holds CONTAINER_MARKER=marker."""
    wanted = f"{CONTAINER_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_container(pgid: int, marker: str) -> None:
    """SIGKILL the container's process group and every process that carries its marker."""
    _killpg(pgid, signal.SIGKILL)
    for pid in marked_processes(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class ContainerProcess:
    def __init__(self, popen: subprocess.Popen[bytes], pid_file: Path, spec: ExecSpec) -> None:
        self.popen = popen
        self.pid_file = pid_file
        self.spec = spec
        self._exit: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def marker(self) -> str:
        return self.pid_file.stem

    @classmethod
    def start(
        cls, spec: ExecSpec, spec_path: Path, log_path: Path, pid_file: Path
    ) -> ContainerProcess:
        spec = replace(spec, env={**spec.env, CONTAINER_MARKER: pid_file.stem})
        spec_path.parent.mkdir(parents=True, exist_ok=True)
        # It holds the resolved env, secrets included: readable by root only.
        fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(spec.to_json())
        log_path.parent.mkdir(parents=True, exist_ok=True)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        argv = [*spec.unshare, sys.executable, "-I", "-S", str(SHIM), str(spec_path)]
        with log_path.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        pid_file.write_text(json.dumps({"pid": popen.pid, "startTime": proc_start_time(popen.pid)}))
        return cls(popen, pid_file, spec)

    def poll(self) -> int | None:
        """The exit code once the main process has exited (stragglers in its group are killed)."""
        if self._exit is None:
            code = self.popen.poll()
            if code is not None:
                self._finish(code)
        return self._exit

    def _finish(self, returncode: int) -> None:
        kill_container(self.popen.pid, self.marker)
        self._exit = exit_code_of(returncode)
        self.pid_file.unlink(missing_ok=True)

    def start_error(self) -> str | None:
        """Set when the command could not be executed at all (e.g. not found)."""
        try:
            return Path(self.spec.start_error_file).read_text() or None
        except OSError:
            return None

    def signal(self, sig: signal.Signals) -> None:
        if self.poll() is None:
            if sig == signal.SIGKILL:
                kill_container(self.popen.pid, self.marker)
            else:
                _killpg(self.popen.pid, sig)


def stop_all(processes: Sequence[ContainerProcess], grace: float) -> None:
    """SIGTERM every process group, then SIGKILL what still runs after `grace` seconds."""
    for proc in processes:
        proc.signal(signal.SIGTERM)
    deadline = time.monotonic() + max(grace, 0.0)
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    for proc in processes:
        if proc.poll() is None:
            proc.signal(signal.SIGKILL)
            proc.popen.wait()
            proc.poll()


def kill_orphans(run_dir: Path) -> list[int]:
    """Kill container process groups left behind by an agent that died; returns their pids."""
    killed = []
    for pid_file in sorted(run_dir.glob("*.json")) if run_dir.is_dir() else []:
        try:
            data = json.loads(pid_file.read_text())
            pid, started = int(data["pid"]), data.get("startTime")
        except (OSError, ValueError, KeyError):
            pid_file.unlink(missing_ok=True)
            continue
        if started is not None and proc_start_time(pid) == started:
            kill_container(pid, pid_file.stem)
            killed.append(pid)
            deadline = time.monotonic() + 5
            while _alive(pid, started) and time.monotonic() < deadline:
                time.sleep(0.05)
        pid_file.unlink(missing_ok=True)
    return killed
