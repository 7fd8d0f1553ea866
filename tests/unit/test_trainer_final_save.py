"""What the trainer saves as the final model on the paths that real training on CPU cannot
reach: a restart after training had ended under load_best_model_at_end, and FSDP with
sharded checkpoints (GPU only)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_trainer.resume import AlreadyTrained, train_or_finish
from sftjob_trainer.train import gather_full_state_dict


class FinishedTrainer:
    """Resumed at max_steps: train() stops before its first step."""

    def __init__(self, load_best: bool, best: str | None) -> None:
        self.args = SimpleNamespace(load_best_model_at_end=load_best)
        self.state = SimpleNamespace(best_model_checkpoint=best)
        self.control = None
        self.loaded_best = False
        self.ended = False
        self.callback_handler = SimpleNamespace(on_train_end=self._end)

    def _end(self, *args: Any) -> None:
        self.ended = True

    def add_callback(self, callback: Any) -> None:
        pass

    def train(self, resume_from_checkpoint: str | None = None) -> None:
        raise AlreadyTrained("step 8 of 8")

    def _load_best_model(self) -> None:
        self.loaded_best = True


@pytest.mark.parametrize(
    ("load_best", "best", "loads"),
    [(True, "out/checkpoint-6", True), (True, None, False), (False, "out/checkpoint-6", False)],
)
def test_a_finished_run_restarted_saves_the_best_model_where_asked(
    load_best: bool, best: str | None, loads: bool
) -> None:
    trainer = FinishedTrainer(load_best, best)
    assert train_or_finish(trainer, "out/checkpoint-8") is False
    assert trainer.loaded_best is loads and trainer.ended


class Plugin:
    def __init__(self, state_dict_type: str) -> None:
        self.state_dict_type = state_dict_type
        self.state_dict_config: Any = f"{state_dict_type} config"
        self.optim_state_dict_config: Any = f"{state_dict_type} optim config"

    def set_state_dict_type(self, state_dict_type: str) -> None:
        # As accelerate does: the type changes, missing configs are made for it.
        self.state_dict_type = state_dict_type
        self.state_dict_config = self.state_dict_config or f"{state_dict_type} config"
        self.optim_state_dict_config = (
            self.optim_state_dict_config or f"{state_dict_type} optim config"
        )


def _trainer(fsdp: bool, plugin: Plugin) -> Any:
    state = SimpleNamespace(fsdp_plugin=plugin)
    return SimpleNamespace(is_fsdp_enabled=fsdp, accelerator=SimpleNamespace(state=state))


def test_sharded_fsdp_is_gathered_whole_for_the_final_save() -> None:
    plugin = Plugin("StateDictType.SHARDED_STATE_DICT")
    gather_full_state_dict(_trainer(True, plugin))
    assert plugin.state_dict_type == "FULL_STATE_DICT"
    assert plugin.state_dict_config == "FULL_STATE_DICT config"
    assert plugin.optim_state_dict_config == "FULL_STATE_DICT optim config"


@pytest.mark.parametrize(
    ("fsdp", "kind"), [(True, "StateDictType.FULL_STATE_DICT"), (False, "SHARDED_STATE_DICT")]
)
def test_other_runs_save_as_they_are(fsdp: bool, kind: str) -> None:
    plugin = Plugin(kind)
    gather_full_state_dict(_trainer(fsdp, plugin))
    assert plugin.state_dict_type == kind and plugin.state_dict_config == f"{kind} config"
