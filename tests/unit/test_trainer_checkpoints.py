"""Which checkpoint a restarted pod resumes from."""

from __future__ import annotations

import json
from pathlib import Path

from sftjob_trainer.checkpoints import (
    incomplete_checkpoints,
    is_complete_checkpoint,
    newest_complete_checkpoint,
)


def _checkpoint(root: Path, step: int, *, state: str | None = None, weights: bool = True) -> Path:
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if weights:
        (path / "model.safetensors").write_bytes(b"\0" * 16)
    if state is None:
        state = json.dumps({"global_step": step, "log_history": []})
    if state != "":
        (path / "trainer_state.json").write_text(state)
    return path


def test_complete(tmp_path: Path) -> None:
    assert is_complete_checkpoint(_checkpoint(tmp_path, 5))


def test_deepspeed_layout_is_complete(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path, 5, weights=False)
    (path / "global_step5").mkdir()
    assert is_complete_checkpoint(path)


def test_missing_state_is_incomplete(tmp_path: Path) -> None:
    assert not is_complete_checkpoint(_checkpoint(tmp_path, 5, state=""))


def test_truncated_state_is_incomplete(tmp_path: Path) -> None:
    assert not is_complete_checkpoint(_checkpoint(tmp_path, 5, state='{"global_step": 5, "lo'))


def test_state_of_another_step_is_incomplete(tmp_path: Path) -> None:
    assert not is_complete_checkpoint(_checkpoint(tmp_path, 5, state='{"global_step": 4}'))


def test_missing_or_empty_weights_are_incomplete(tmp_path: Path) -> None:
    assert not is_complete_checkpoint(_checkpoint(tmp_path, 5, weights=False))
    empty = _checkpoint(tmp_path, 6, weights=False)
    (empty / "model.safetensors").write_bytes(b"")
    assert not is_complete_checkpoint(empty)


def test_newest_complete_skips_a_torn_newer_one(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 5)
    good = _checkpoint(tmp_path, 10)
    torn = _checkpoint(tmp_path, 15, state='{"glo')
    _checkpoint(tmp_path, 20, state="")
    (tmp_path / "checkpoint-x").mkdir()
    (tmp_path / "runs").mkdir()
    assert newest_complete_checkpoint(tmp_path) == good
    assert incomplete_checkpoints(tmp_path) == [torn, tmp_path / "checkpoint-20"]


def test_numeric_not_lexical_order(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 9)
    newest = _checkpoint(tmp_path, 10)
    assert newest_complete_checkpoint(tmp_path) == newest


def test_none_when_empty_or_missing(tmp_path: Path) -> None:
    assert newest_complete_checkpoint(tmp_path) is None
    assert newest_complete_checkpoint(tmp_path / "missing") is None
    assert incomplete_checkpoints(tmp_path / "missing") == []
