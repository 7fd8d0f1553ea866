"""A training process stops when the process that started it dies.

`sftjob run --local` starts `sftjob-train`, which starts `accelerate launch` in its own
process group (to pass SIGTERM to every rank), which starts the ranks (torch's elastic agent
puts each in a session of its own). A SIGKILL to any of them (a crash, `kill -9`, an OOM
kill) used to leave what it had started training on alone, writing into the same output
directory as the next run. In a pod the container's end takes them down; outside one
nothing did.

Linux's parent-death signal (prctl PR_SET_PDEATHSIG) closes that gap: each link asks for
SIGTERM when its parent dies, so the ranks save the checkpoint of the step they are in
and stop, as on preemption (stop_on_sigterm). Elsewhere this is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PR_GET_PDEATHSIG = 2
SIGNAL_ON_PARENT_DEATH = signal.SIGTERM
# Set by sftjob-train for `accelerate launch`: a rank's parent's parent, while both live.
LAUNCHER_PID_ENV = "SFTJOB_LAUNCHER_PID"


def _libc_prctl() -> Any:
    """Looked up in the parent: a preexec_fn should not load libraries or run programs."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def _ask_for_sigterm() -> bool:
    """Ask for SIGTERM on the parent's death, unless a parent-death signal is set already
    (a supervisor's own choice, such as the devcluster's SIGKILL). False: not set by us."""
    if _PRCTL is None:
        return False
    current = ctypes.c_int(0)
    if _PRCTL(PR_GET_PDEATHSIG, ctypes.byref(current), 0, 0, 0) == 0 and current.value:
        return False
    # A refusal (a seccomp profile) leaves the launcher's own group handling.
    return bool(_PRCTL(PR_SET_PDEATHSIG, int(SIGNAL_ON_PARENT_DEATH), 0, 0, 0) == 0)


def parent_of(pid: int) -> int | None:
    """The parent of a live process (None: gone, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # after the command name: state, ppid


def stop_with_parent(parent_pid: int | None = None, grandparent_pid: int | None = None) -> None:
    """Get SIGTERM when the parent dies. A parent that died before the request was made
    (so that this process has been handed to another) is caught by naming the parent, or
    the parent's parent, as it was at the start."""
    if not _ask_for_sigterm():
        return
    parent = os.getppid()
    orphaned = (parent_pid is not None and parent != parent_pid) or (
        grandparent_pid is not None and parent_of(parent) != grandparent_pid
    )
    if orphaned:
        os.kill(os.getpid(), SIGNAL_ON_PARENT_DEATH)


def stop_rank_with_launcher(env: Mapping[str, str]) -> None:
    """In a rank: SIGTERM when `accelerate launch` (or torch's agent) dies."""
    launcher = env.get(LAUNCHER_PID_ENV, "")
    stop_with_parent(grandparent_pid=int(launcher) if launcher.isdigit() else None)


def child_stops_with_this_process() -> Callable[[], None]:
    """A Popen preexec_fn: the child gets SIGTERM when this process dies."""
    parent_pid = os.getpid()

    def in_child() -> None:
        with contextlib.suppress(Exception):  # never fail the launch over it
            stop_with_parent(parent_pid)

    return in_child
