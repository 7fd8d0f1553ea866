"""SIGTERM in the pod: the entrypoint passes it to every training process and waits for
them, and a stopped run exits with EXIT_TERMINATED.

Kubernetes stops a pod (preemption, eviction, a suspended Job, a drained node) with
SIGTERM, then SIGKILL after the pod's terminationGracePeriodSeconds (spec.
terminationGracePeriodSeconds of the SFTJob). What a training process does with it (a
checkpoint that all ranks save at one step) is `stop_on_sigterm`'s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from types import FrameType

from .parent_death import LAUNCHER_PID_ENV, child_stops_with_this_process

EXIT_TERMINATED = 128 + signal.SIGTERM  # what a shell reports for a SIGTERM'd process
# How long training processes left behind by a dead launcher get to checkpoint and stop.
ORPHAN_GRACE_SECONDS = 30.0


class Terminated(Exception):
    """Training was stopped by SIGTERM; its checkpoint is saved."""


def _group_alive(pgid: int) -> bool:
    # Reap what we can first: in a container this process is the first one, and the
    # orphans of the group become its children.
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def run_forwarding_signals(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run `accelerate launch` in its own process group and pass SIGTERM and SIGINT to the
    whole group, then wait until every process in it has exited.

    The kubelet signals only the container's first process, and the first process of a
    PID namespace ignores signals it has no handler for. Replacing this process by
    `accelerate launch` would leave its single-process launcher deaf to SIGTERM (or, outside
    a container, dying at once while its training process is still checkpointing). Here
    every training process gets the signal and its grace period."""
    proc = subprocess.Popen(
        list(argv), env={**env, LAUNCHER_PID_ENV: str(os.getpid())}, start_new_session=True,
        preexec_fn=child_stops_with_this_process(),  # this process's SIGKILL reaches them
    )  # fmt: skip
    forwarded: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    code = proc.wait()
    if code != 0 and not forwarded:
        # The launcher died on its own (killed, OOM): nothing supervises its training
        # processes any more, and they would train on alone.
        _stop_group(proc.pid, ORPHAN_GRACE_SECONDS)
    while _group_alive(proc.pid):
        time.sleep(0.2)
    if forwarded and code != 0:
        # Stopped by the signal: torch's elastic agent reports its stopped children as a
        # failure (exit 1); the pod exits as a process stopped by that signal does.
        return 128 + forwarded[0]
    return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it


def _stop_group(pgid: int, grace: float) -> None:
    """SIGTERM the group (a checkpoint on the way out), SIGKILL what is left after grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
