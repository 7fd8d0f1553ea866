"""Start and stop component processes, tracked by pid files.

A pid file holds the pid and the executable path. Before signalling a pid we
check that /proc/<pid>/cmdline still starts with that executable, so a pid
reused by an unrelated process is never killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tracked:
    name: str
    pid: int
    exe: str
    log: Path


def start(
    name: str,
    argv: Sequence[str],
    log: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` detached from our session, logging to `log`, recording its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%H:%M:%S')} starting {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    pid_file.write_text(json.dumps({"pid": proc.pid, "exe": argv[0], "log": str(log)}))
    return proc


def read_pid_file(name: str, pid_file: Path) -> Tracked | None:
    try:
        data = json.loads(pid_file.read_text())
        return Tracked(name, int(data["pid"]), str(data["exe"]), Path(data["log"]))
    except (OSError, ValueError, KeyError):
        return None


def is_ours(tracked: Tracked) -> bool:
    """True if the pid is alive and still runs the executable we started."""
    raw = b""
    for _ in range(50):
        try:
            raw = Path(f"/proc/{tracked.pid}/cmdline").read_bytes()
        except OSError:
            return False
        if raw:
            break
        # Empty while the process is still exec'ing (or already a zombie).
        time.sleep(0.01)
    argv0 = raw.split(b"\0", 1)[0].decode(errors="replace")
    if argv0 != tracked.exe:
        return False
    try:
        stat = Path(f"/proc/{tracked.pid}/stat").read_text()
    except OSError:
        return False
    # A zombie (state Z) has exited; it only waits to be reaped by its parent.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(tracked: Tracked, grace: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after `grace` seconds. Returns True if it had been running."""
    if not is_ours(tracked):
        return False
    try:
        os.kill(tracked.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_ours(tracked):
            _reap(tracked.pid)
            return True
        _reap(tracked.pid)
        time.sleep(0.1)
    try:
        os.kill(tracked.pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    for _ in range(50):
        _reap(tracked.pid)
        if not is_ours(tracked):
            break
        time.sleep(0.1)
    return True


def send(tracked: Tracked, sig: signal.Signals) -> bool:
    """Send `sig` if the pid still runs what we started. True if it was sent."""
    if not is_ours(tracked):
        return False
    try:
        os.kill(tracked.pid, sig)
    except ProcessLookupError:
        return False
    return True


def kill(tracked: Tracked, timeout: float = 10.0) -> bool:
    """SIGKILL, no grace (a crash); wait until it is gone. True if it had been running."""
    if not send(tracked, signal.SIGKILL):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(tracked.pid)
        if not is_ours(tracked):
            return True
        time.sleep(0.05)
    raise TimeoutError(f"{tracked.name} (pid {tracked.pid}) survived SIGKILL for {timeout:.0f}s")


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (else it is not ours to reap)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "".join(text.splitlines(keepends=True)[-lines:])
