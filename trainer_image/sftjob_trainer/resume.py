"""Resuming from a checkpoint that is already at max_steps.

transformers checks max_steps only after an optimizer step, so
`train(resume_from_checkpoint=<a checkpoint at max_steps>)` trains one step past the end and
saves checkpoint-<max_steps + 1>. An attempt that finished training but failed afterwards
(saving the model, pushing to the Hub) and is restarted by the operator resumes exactly
there. `train_or_finish` stops before that step: the model holds the checkpoint's weights
(loaded by `train` before its first step), so it is saved as the final model, or the best
checkpoint's weights where `load_best_model_at_end` asks for them (transformers loads them
only at the end of its training loop, which this path skips).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback


class AlreadyTrained(Exception):
    """The resumed checkpoint is at max_steps: nothing is left to train."""


class StopWhenAlreadyTrained(TrainerCallback):
    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if 0 < state.max_steps <= state.global_step:
            raise AlreadyTrained(f"step {state.global_step} of {state.max_steps}")


def train_or_finish(trainer: Any, checkpoint: str | None) -> bool:
    """`trainer.train(resume_from_checkpoint=checkpoint)`; False when the checkpoint was
    already at max_steps and no step was trained (the callbacks still see the train end)."""
    trainer.add_callback(StopWhenAlreadyTrained())
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except AlreadyTrained:
        if trainer.args.load_best_model_at_end and trainer.state.best_model_checkpoint:
            trainer._load_best_model()
        trainer.callback_handler.on_train_end(trainer.args, trainer.state, trainer.control)
        return False
    return True
