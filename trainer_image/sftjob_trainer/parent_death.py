"""A training process stops when the process that started it dies.

`sftjob run --local` starts `sftjob-train`, which starts `accelerate launch` in its own
process group (to pass SIGTERM to every rank), which starts the ranks. A SIGKILL to any
of them (a crash, `kill -9`, an OOM kill) used to leave what it had started training on
alone, writing into the same output directory as the next run. In a pod the container's
end takes them down; outside one nothing did.

Linux's parent-death signal (prctl PR_SET_PDEATHSIG) closes that gap: each link asks for
SIGTERM when its parent dies, so the ranks save the checkpoint of the step they are in
and stop, as on preemption (stop_on_sigterm). Elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
SIGNAL_ON_PARENT_DEATH = signal.SIGTERM


def stop_with_parent(parent_pid: int | None = None) -> None:
    """Get SIGTERM when the parent dies. With parent_pid (the parent before the fork), a
    parent that died before the request was made is caught too."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(SIGNAL_ON_PARENT_DEATH), 0, 0, 0) != 0:
        return  # refused (a seccomp profile): the launcher's own group handling remains
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), SIGNAL_ON_PARENT_DEATH)


def child_stops_with_this_process() -> Callable[[], None]:
    """A Popen preexec_fn: the child gets SIGTERM when this process dies."""
    parent_pid = os.getpid()
    return lambda: stop_with_parent(parent_pid)
