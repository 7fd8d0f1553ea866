"""SIGTERM handling around transformers' checkpoint-on-SIGTERM (the signal part; the
checkpoint itself is tested with real training in tests/trainer/test_train_sigterm.py)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_trainer.preemption import SigtermNote


@pytest.fixture
def restore_sigterm() -> Iterator[None]:
    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def test_the_note_records_the_signal_and_the_checkpoint_handler_still_runs(
    restore_sigterm: None,
) -> None:
    seen: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    note = SigtermNote()
    note.install()
    assert not note.received
    os.kill(os.getpid(), signal.SIGTERM)
    assert note.received and seen == [signal.SIGTERM]


def test_without_a_checkpoint_handler_sigterm_keeps_its_default(restore_sigterm: None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    SigtermNote().install()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize(
    ("received", "step", "max_steps", "cut"),
    [(False, 5, 10, False), (True, 5, 10, True), (True, 10, 10, False)],
)
def test_cut_short(received: bool, step: int, max_steps: int, cut: bool) -> None:
    state = SimpleNamespace(global_step=step, max_steps=max_steps)
    assert SigtermNote(received=received).cut_short(state) is cut


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
