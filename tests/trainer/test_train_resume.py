"""A pod killed after a checkpoint resumes from it; a checkpoint cut off mid-write is skipped."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.checkpoints import is_complete_checkpoint
from trainer_helpers import (
    RUN_TIMEOUT_S,
    base_config,
    kill_group,
    pod_env,
    run_trainer,
    start,
    train_command,
    write_yaml,
)

pytestmark = pytest.mark.trainer

MAX_STEPS = 60
SAVE_STEPS = 5


def _wait_for_complete_checkpoint(out: Path, proc: Any) -> Path:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "training ended before it could be killed"
        done = [p for p in out.glob("checkpoint-*") if is_complete_checkpoint(p)]
        if done:
            return done[0]
        time.sleep(0.02)
    raise AssertionError("no checkpoint was written")


def test_killed_run_resumes_from_checkpoint(tiny: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = write_yaml(
        tmp_path / "trl.yaml",
        base_config(
            tiny,
            out,
            max_steps=MAX_STEPS,
            save_strategy="steps",
            save_steps=SAVE_STEPS,
            logging_steps=5,
        ),
    )
    env = pod_env(tmp_path / "first")
    proc = start(train_command(config), env, tmp_path / "first", "trainer")
    _wait_for_complete_checkpoint(out, proc)
    kill_group(proc)  # like a node loss: no chance to clean up
    assert proc.returncode != 0

    complete = sorted(
        (p for p in out.glob("checkpoint-*") if is_complete_checkpoint(p)),
        key=lambda p: int(p.name.split("-")[1]),
    )
    resume_step = int(complete[-1].name.split("-")[1])
    assert resume_step < MAX_STEPS

    # A newer checkpoint cut off mid-write: weights present, trainer_state.json truncated.
    torn = out / f"checkpoint-{resume_step + 1000}"
    shutil.copytree(complete[-1], torn)
    state_file = torn / "trainer_state.json"
    state_file.write_text(state_file.read_text()[:40])

    run = run_trainer(config, tmp_path / "second")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"skipping incomplete checkpoint {torn}" in run.stderr
    assert f"resuming from {complete[-1]}" in run.stdout + run.stderr
    started = run.progress()[0]
    assert started["event"] == "started"
    assert started["step"] == resume_step and started["resumed"] is True
    final = run.progress()[-1]
    assert final["final"] is True and final["step"] == MAX_STEPS
    assert run.finished_steps() == {0: MAX_STEPS}
    state = json.loads((out / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS


def test_resuming_from_the_final_checkpoint_trains_no_further_step(
    tiny: Any, tmp_path: Path
) -> None:
    """An attempt that trained to max_steps but failed afterwards (saving, pushing) is
    restarted: it saves the final checkpoint's weights and trains no step past the end."""
    from safetensors.torch import load_file

    out = tmp_path / "out"
    config = write_yaml(
        tmp_path / "trl.yaml",
        base_config(tiny, out, max_steps=4, save_strategy="steps", save_steps=2),
    )
    first = run_trainer(config, tmp_path / "first")
    assert first.returncode == 0, first.stderr[-3000:]
    (out / "model.safetensors").unlink()  # as if the final save had failed

    second = run_trainer(config, tmp_path / "second")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "checkpoint-4 is at max_steps (4); training is complete" in second.stdout
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert second.finished_steps() == {0: 4}
    final = second.progress()[-1]
    assert final["final"] is True and final["step"] == 4 and final["percent"] == 100.0
    saved = load_file(out / "model.safetensors")
    trained = load_file(out / "checkpoint-4" / "model.safetensors")
    assert saved.keys() == trained.keys()
    assert all(saved[k].equal(trained[k]) for k in saved)
