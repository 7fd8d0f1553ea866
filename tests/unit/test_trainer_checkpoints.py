"""Which checkpoint a restarted pod resumes from."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_trainer.checkpoints import (
    incomplete_checkpoints,
    is_complete_checkpoint,
    newest_complete_checkpoint,
)
from sftjob_trainer.config_check import ConfigError
from sftjob_trainer.train import resume_target


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


def test_fsdp_sharded_layout_is_complete(tmp_path: Path) -> None:
    """accelerate's SHARDED_STATE_DICT checkpoint: a directory of shards, no weights file."""
    path = _checkpoint(tmp_path, 5, weights=False)
    (path / "pytorch_model_fsdp_0").mkdir()
    (path / "optimizer_0").mkdir()
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


def _args(output_dir: Path, resume: object = None) -> Any:
    return SimpleNamespace(output_dir=str(output_dir), resume_from_checkpoint=resume)


def test_resume_from_the_newest_by_default_and_with_true(tmp_path: Path) -> None:
    newest = _checkpoint(tmp_path, 10)
    for resume in (None, True, "true", "True"):
        assert resume_target(_args(tmp_path, resume)) == str(newest)
    assert resume_target(_args(tmp_path / "empty", True)) is None


def test_false_trains_from_the_start(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 10)
    for resume in (False, "false"):
        assert resume_target(_args(tmp_path, resume)) is None


def test_an_explicit_checkpoint_starts_the_job_until_a_newer_one_is_saved(
    tmp_path: Path,
) -> None:
    given = _checkpoint(tmp_path / "base", 500)
    out = tmp_path / "out"
    assert resume_target(_args(out, str(given))) == str(given)  # the first attempt
    _checkpoint(out, 400)  # an older run's leftover is not newer than the given one
    assert resume_target(_args(out, str(given))) == str(given)
    newer = _checkpoint(out, 520)  # this job's own, after the first attempt trained on
    assert resume_target(_args(out, str(given))) == str(newer)
    # ... also once save_total_limit has rotated the given checkpoint away.
    assert resume_target(_args(out, str(tmp_path / "base" / "gone"))) == str(newer)


def test_an_explicit_checkpoint_that_does_not_exist_is_refused_until_the_job_has_its_own(
    tmp_path: Path,
) -> None:
    out, gone = tmp_path / "out", tmp_path / "base" / "checkpoint-900"
    with pytest.raises(ConfigError, match=f"resume_from_checkpoint: {gone} does not exist"):
        resume_target(_args(out, str(gone)))
    own = _checkpoint(out, 20)  # a later attempt of this job saved one: resume from it
    assert resume_target(_args(out, str(gone))) == str(own)


def test_an_explicit_directory_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=f"resume_from_checkpoint: {model} is not a checkpoint"):
        resume_target(_args(tmp_path / "out", str(model)))
