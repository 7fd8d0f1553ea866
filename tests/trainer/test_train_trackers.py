"""report_to: the trackers write on the job's storage, and a missing one fails fast."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from sftjob_operator.render.configmap import OUTPUT_DIR
from sftjob_operator.render.trackers import TRACKER_ENV
from trainer_helpers import RUN_TIMEOUT_S, Run, base_config, pod_env, train_command, write_yaml

pytestmark = pytest.mark.trainer

STEPS = 4


def run_in(config: Path, workdir: Path, out: Path, **env: str) -> Run:
    """The trainer as a pod runs it: working directory and $HOME off the storage, and the
    operator's tracker defaults with the storage mount at `out`."""
    cwd, home = workdir / "cwd", workdir / "home"
    cwd.mkdir()
    home.mkdir()
    defaults = {name: value.replace(OUTPUT_DIR, str(out)) for name, value in TRACKER_ENV}
    full_env = pod_env(workdir, **{"HOME": str(home), **defaults, **env})
    proc = subprocess.run(
        train_command(config),
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, Path(full_env["SFTJOB_PROGRESS_FILE"]))


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def test_tensorboard_logs_the_loss_on_the_storage(tiny: Any, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "storage"
    cfg = base_config(tiny, out, max_steps=STEPS, report_to="tensorboard")
    run = run_in(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path, out)
    assert run.returncode == 0, run.stderr[-3000:]
    (run_dir,) = (out / "runs").iterdir()
    assert list(run_dir.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, STEPS + 1))
    assert files_under(tmp_path / "cwd") == [] and files_under(tmp_path / "home") == []


def test_wandb_trackio_and_mlflow_write_on_the_storage(tiny: Any, tmp_path: Path) -> None:
    out = tmp_path / "storage"
    cfg = base_config(tiny, out, max_steps=STEPS, report_to=["wandb", "trackio", "mlflow"])
    run = run_in(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path, out, WANDB_MODE="offline")
    assert run.returncode == 0, run.stderr[-3000:]
    assert list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert list((out / "trackio").glob("*.db"))
    assert list((out / "mlruns").glob("*/*/metrics/train_loss"))
    assert files_under(tmp_path / "cwd") == []


def test_a_tracker_the_image_lacks_fails_before_the_model_loads(tiny: Any, tmp_path: Path) -> None:
    from sftjob_trainer.trackers import installed_integrations

    have = installed_integrations()
    missing = next(
        (n for n in ("comet_ml", "clearml", "swanlab", "dvclive") if n not in have), None
    )
    if missing is None:
        pytest.skip("every candidate tracker is installed here")
    out = tmp_path / "storage"
    # A model that does not exist: had it been loaded first, that would be the error.
    cfg = base_config(tiny, out, report_to=["tensorboard", missing])
    cfg["model_name_or_path"] = str(tmp_path / "no-such-model")
    run = run_in(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path, out)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert f"`{missing}` is not installed in this trainer image" in reason
    assert "report_to: [tensorboard]" in reason
    assert "no-such-model" not in run.stderr
    assert not out.exists()
