"""SIGTERM -> a checkpoint, then an exit that says the attempt was stopped.

Kubernetes stops a pod (preemption, eviction, a suspended Job, a drained node) with
SIGTERM, then SIGKILL after the pod's terminationGracePeriodSeconds (spec.
terminationGracePeriodSeconds of the SFTJob). transformers' own just-in-time checkpoint
(`enable_jit_checkpoint`, trainer_jit_checkpoint.py) saves a checkpoint at the next step
boundary and stops training; it is on unless trl.yaml turns it off. What it does not do
is tell the program after `trainer.train()` that training was cut short: without that,
the trainer would save the half-trained model as the final one and exit 0, and the Job
would count the rank as done. `SigtermNote` records the signal, so `train` exits with
EXIT_TERMINATED instead and the next attempt resumes from the checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

EXIT_TERMINATED = 128 + signal.SIGTERM  # what a shell reports for a SIGTERM'd process
# How long training processes left behind by a dead launcher get to checkpoint and stop.
ORPHAN_GRACE_SECONDS = 30.0


class Terminated(Exception):
    """Training was stopped by SIGTERM; its checkpoint is saved."""


@dataclass
class SigtermNote:
    """Set when SIGTERM arrived; the handler it wraps (transformers') still runs."""

    received: bool = False

    def install(self) -> None:
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return  # no checkpoint handler to wrap: SIGTERM keeps its default meaning

        def noted(signum: int, frame: FrameType | None) -> None:
            self.received = True
            previous(signum, frame)

        signal.signal(signal.SIGTERM, noted)

    def cut_short(self, state: Any) -> bool:
        """Training stopped because of the signal, before max_steps."""
        return self.received and state.global_step < state.max_steps


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
    proc = subprocess.Popen(list(argv), env=dict(env), start_new_session=True)
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
