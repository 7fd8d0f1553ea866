"""SIGTERM -> every rank stops at the same step and saves one checkpoint together.

Kubernetes stops a pod (preemption, eviction, a suspended Job, a drained node) with
SIGTERM, then SIGKILL after the pod's terminationGracePeriodSeconds. The pods of a
multi-node job get their signals from different kubelets, or only one of them does (one
node drained). transformers' own just-in-time checkpoint (`enable_jit_checkpoint`) acts on
each process's signal alone, 3 s after it: a rank that saves and stops on its own leaves
the others waiting in the next step's collective until SIGKILL, and no checkpoint is
written. Here the ranks vote at every step's end (one all-reduce of a flag; the step
already synchronises the ranks): once any rank has the signal, all of them save the
checkpoint through the Trainer's own save path at that step and stop.

`enable_jit_checkpoint` stays the switch: `false` keeps SIGTERM's default (the process
dies at once). `train` asks `cut_short` after training, so a stopped run exits with
EXIT_TERMINATED instead of saving the half-trained model as the final one.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

from transformers import TrainerCallback

Vote = Callable[[bool], bool]


def vote_of_all_ranks(accelerator: Any) -> Vote:
    """True on every rank when any rank's flag is true (one process: its own flag)."""
    if accelerator.num_processes == 1:
        return lambda flag: flag

    import torch

    def vote(flag: bool) -> bool:
        votes = torch.tensor([int(flag)], device=accelerator.device)
        return bool(accelerator.reduce(votes, reduction="sum").item())

    return vote


class StopOnSigterm(TrainerCallback):
    def __init__(self, vote: Vote) -> None:
        self.received = False  # this process got SIGTERM
        self.stopped = False  # the ranks agreed to stop before max_steps
        self._vote = vote

    def install(self) -> None:
        """Take SIGTERM from here on (in place of transformers' handler, if it set one)."""
        signal.signal(signal.SIGTERM, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self._vote(self.received) and state.global_step < state.max_steps:
            self.stopped = True
            control.should_save = True
            control.should_evaluate = False  # the grace period is for the checkpoint
            control.should_training_stop = True
        return control

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.stopped:
            control.should_save = False  # saved at the step: no second save of it
        return control

    def cut_short(self, state: Any) -> bool:
        """Training stopped because of the signal, before max_steps."""
        return self.stopped and state.global_step < state.max_steps


def stop_on_sigterm(trainer: Any) -> StopOnSigterm | None:
    """Replace transformers' per-process checkpoint on SIGTERM with the ranks' common one,
    where trl.yaml leaves it on (CLUSTER_DEFAULTS); None where it is off."""
    if not trainer.args.enable_jit_checkpoint:
        return None
    from transformers.trainer_jit_checkpoint import JITCheckpointCallback

    trainer.remove_callback(JITCheckpointCallback)
    stop = StopOnSigterm(vote_of_all_ranks(trainer.accelerator))
    trainer.add_callback(stop)
    stop.install()
    return stop
