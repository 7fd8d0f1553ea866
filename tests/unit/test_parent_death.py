"""parent_death: a SIGKILL'd launcher's children get SIGTERM, however they were started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")

# The child notes SIGTERM in a file and exits; it would otherwise sleep for ten minutes.
CHILD = """
import os, pathlib, signal, sys, time
{setup}
def stopped(signum, frame):
    pathlib.Path(sys.argv[1] + ".tmp").write_text("SIGTERM")
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])  # whole, when the test sees it
    sys.exit(0)
signal.signal(signal.SIGTERM, stopped)
pathlib.Path(sys.argv[1] + ".ready").touch()
time.sleep(600)
"""
# The parent starts the child and waits; the test SIGKILLs it.
PARENT = """
import subprocess, sys, time
from sftjob_trainer.parent_death import child_stops_with_this_process
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], {popen})
print(child.pid, flush=True)
time.sleep(600)
"""


def kill_parent_and_wait(
    tmp_path: Path, child_setup: str, popen_args: str, wait_s: float = 30
) -> str | None:
    """What the child noted after its parent's SIGKILL (None: nothing, within wait_s)."""
    marker = tmp_path / "child"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.format(popen=popen_args),
         CHILD.format(setup=child_setup), str(marker)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    try:
        deadline = time.monotonic() + 30
        while not Path(f"{marker}.ready").exists():
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.05)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + wait_s
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return marker.read_text() if marker.exists() else None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child_pid, signal.SIGKILL)


def test_a_child_started_with_the_preexec_fn_gets_sigterm(tmp_path: Path) -> None:
    preexec = "preexec_fn=child_stops_with_this_process(), start_new_session=True"
    assert kill_parent_and_wait(tmp_path, "", preexec) == "SIGTERM"


def test_a_rank_that_asks_for_itself_gets_sigterm(tmp_path: Path) -> None:
    """As a rank does: its launcher (here this test) is its parent's parent."""
    setup = (
        "import os; from sftjob_trainer.parent_death import stop_rank_with_launcher; "
        f"stop_rank_with_launcher({{'SFTJOB_LAUNCHER_PID': '{os.getpid()}'}})"
    )
    assert kill_parent_and_wait(tmp_path, setup, "start_new_session=True") == "SIGTERM"


def test_a_rank_whose_launcher_is_not_its_grandparent_any_more_stops_at_once(
    tmp_path: Path,
) -> None:
    """The launcher died before the rank asked: it was handed to another process."""
    marker = tmp_path / "child"
    setup = "from sftjob_trainer.parent_death import stop_rank_with_launcher"
    script = CHILD.format(setup=setup).replace(
        "time.sleep(600)",
        "stop_rank_with_launcher({'SFTJOB_LAUNCHER_PID': '1073741824'})\ntime.sleep(600)",
    )
    done = subprocess.run([sys.executable, "-c", script, str(marker)], timeout=60)
    assert done.returncode == 0
    assert marker.read_text() == "SIGTERM"


def test_a_parent_death_signal_set_by_a_supervisor_is_kept() -> None:
    """The devcluster's shim asks for SIGKILL; an in-place trainer does not replace it."""
    script = (
        "import ctypes, signal; from sftjob_trainer import parent_death as p\n"
        "p._PRCTL(p.PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)\n"
        "p.stop_with_parent()\n"
        "v = ctypes.c_int(0); p._PRCTL(p.PR_GET_PDEATHSIG, ctypes.byref(v), 0, 0, 0)\n"
        "print(v.value)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == str(int(signal.SIGKILL)), done.stderr


def test_without_it_the_child_trains_on(tmp_path: Path) -> None:
    """The gap this closes: a child in its own session outlives a SIGKILL'd parent."""
    assert kill_parent_and_wait(tmp_path, "", "start_new_session=True", wait_s=2) is None


def test_a_parent_already_dead_at_the_request_is_caught(tmp_path: Path) -> None:
    """stop_with_parent(pid) in a process whose parent is no longer pid: SIGTERM at once."""
    marker = tmp_path / "child"
    setup = "from sftjob_trainer.parent_death import stop_with_parent"
    script = CHILD.format(setup=setup).replace(
        "time.sleep(600)", "stop_with_parent(1 << 30)\ntime.sleep(600)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(marker)], timeout=60)
    assert done.returncode == 0
    assert marker.read_text() == "SIGTERM"
