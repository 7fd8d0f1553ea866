from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from sftjob_devcluster import procs


def test_start_and_stop_by_pid_file(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep
    proc = procs.start("sleeper", [sleep, "60"], tmp_path / "s.log", tmp_path / "s.pid")
    tracked = procs.read_pid_file("sleeper", tmp_path / "s.pid")
    assert tracked is not None and tracked.pid == proc.pid and tracked.exe == sleep
    assert procs.is_ours(tracked)
    assert procs.stop(tracked, grace=5)
    assert proc.poll() is not None
    assert not procs.is_ours(tracked)
    assert not procs.stop(tracked)


def test_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep
    proc = procs.start("sleeper", [sleep, "60"], tmp_path / "s.log", tmp_path / "s.pid")
    try:
        impostor = procs.Tracked("x", proc.pid, "/usr/bin/something-else", tmp_path / "x.log")
        assert not procs.is_ours(impostor)
        assert not procs.stop(impostor)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_unreadable_pid_file_is_none(tmp_path: Path) -> None:
    (tmp_path / "bad.pid").write_text("not json")
    assert procs.read_pid_file("bad", tmp_path / "bad.pid") is None
    assert procs.read_pid_file("absent", tmp_path / "absent.pid") is None


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_pause_resume_and_kill_by_pid_file(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep
    proc = procs.start("sleeper", [sleep, "60"], tmp_path / "s.log", tmp_path / "s.pid")
    tracked = procs.read_pid_file("sleeper", tmp_path / "s.pid")
    assert tracked is not None
    try:
        assert procs.send(tracked, signal.SIGSTOP)
        wait_until(lambda: _state(proc.pid) == "T")
        assert procs.is_ours(tracked)  # stopped, not gone
        assert procs.send(tracked, signal.SIGCONT)
        wait_until(lambda: _state(proc.pid) == "S")
        assert procs.kill(tracked)
        assert proc.poll() is not None and not procs.is_ours(tracked)  # reaped by kill
        assert not procs.kill(tracked) and not procs.send(tracked, signal.SIGCONT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_until(probe: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
