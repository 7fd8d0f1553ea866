"""The trainer's stop on SIGTERM: the signal, the ranks' vote and what the Trainer is told
(the checkpoint itself is tested with real training, one and two nodes, in
tests/trainer/test_train_sigterm.py)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_trainer.stop_on_sigterm import StopOnSigterm, vote_of_all_ranks
from transformers import TrainerControl


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def _state(step: int, max_steps: int = 10) -> Any:
    return SimpleNamespace(global_step=step, max_steps=max_steps)


def test_the_signal_is_noted_in_place_of_the_previous_handler(restore_sigterm: None) -> None:
    seen: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    stop = StopOnSigterm(vote=lambda flag: flag)
    stop.install()
    assert not stop.received
    os.kill(os.getpid(), signal.SIGTERM)
    assert stop.received and seen == []


def test_each_step_end_votes_with_this_ranks_flag() -> None:
    votes: list[bool] = []

    def no_rank_stops(flag: bool) -> bool:
        votes.append(flag)
        return False

    stop = StopOnSigterm(vote=no_rank_stops)
    control = stop.on_step_end(None, _state(3), TrainerControl())
    stop.received = True
    stop.on_step_end(None, _state(4), control)
    assert votes == [False, True]
    assert not (control.should_save or control.should_training_stop or stop.stopped)


def test_a_vote_to_stop_saves_at_this_step_and_stops_without_evaluating() -> None:
    stop = StopOnSigterm(vote=lambda flag: True)  # another rank got the signal
    control = TrainerControl(should_evaluate=True)
    stop.on_step_end(None, _state(4), control)
    assert control.should_save and control.should_training_stop and not control.should_evaluate
    assert stop.stopped and stop.cut_short(_state(4))
    control.should_save = True  # an epoch-end save strategy asks again
    stop.on_epoch_end(None, _state(4), control)
    assert not control.should_save


def test_a_vote_to_stop_at_the_last_step_is_a_normal_end() -> None:
    stop = StopOnSigterm(vote=lambda flag: True)
    control = stop.on_step_end(None, _state(10), TrainerControl())
    assert not (control.should_save or control.should_training_stop)
    assert not stop.cut_short(_state(10))


def test_one_process_votes_alone() -> None:
    vote = vote_of_all_ranks(SimpleNamespace(num_processes=1))
    assert vote(True) is True and vote(False) is False


@pytest.mark.parametrize(
    ("explicit", "expected"),
    [
        (set(), {"enable_jit_checkpoint": True, "logging_nan_inf_filter": False}),
        (
            {"enable_jit_checkpoint"},
            {"enable_jit_checkpoint": False, "logging_nan_inf_filter": False},
        ),
        (
            {"logging_nan_inf_filter"},
            {"enable_jit_checkpoint": True, "logging_nan_inf_filter": True},
        ),
    ],
)
def test_cluster_defaults_apply_unless_trl_yaml_sets_them(
    explicit: set[str], expected: dict[str, bool]
) -> None:
    from sftjob_trainer.train import apply_cluster_defaults

    # transformers' own defaults, as TrlParser leaves them when trl.yaml is silent.
    args: Any = SimpleNamespace(enable_jit_checkpoint=False, logging_nan_inf_filter=True)
    apply_cluster_defaults(args, explicit)
    assert vars(args) == expected
