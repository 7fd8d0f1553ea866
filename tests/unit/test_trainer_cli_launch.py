"""The entrypoint's exit code when `accelerate launch` fails: asked of accelerate only when
no rank started."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_trainer import cli
from sftjob_trainer.failure import RANK_STARTED_ENV


@pytest.mark.parametrize(("a_rank_started", "code"), [(False, 2), (True, 1)])
def test_a_failed_launch_is_a_refused_config_only_when_no_rank_started(
    tmp_path: Path, monkeypatch: Any, a_rank_started: bool, code: int
) -> None:
    trl = tmp_path / "trl.yaml"
    trl.write_text("model_name_or_path: m\n")
    accelerate = tmp_path / "accelerate.yaml"
    accelerate.write_text(
        yaml.safe_dump(
            {
                "distributed_type": "NO",
                "num_machines": 1,
                "num_processes": 1,
                "mixed_precision": "fp9",
                "use_cpu": True,
            }
        )
    )

    def launch(argv: list[str], env: dict[str, str]) -> int:
        if a_rank_started:
            Path(env[RANK_STARTED_ENV]).touch()  # as train.main does first
        return 1  # accelerate launch's code for a refused config and for a failed rank

    monkeypatch.setattr(cli, "run_forwarding_signals", launch)
    monkeypatch.setenv("SFTJOB_TERMINATION_LOG", str(tmp_path / "termination-log"))
    assert cli.main(["--config", str(trl), "--accelerate-config", str(accelerate)]) == code
    logged = tmp_path / "termination-log"
    assert logged.exists() is (not a_rank_started)
    if not a_rank_started:
        assert "mixed_precision: fp9 is not a precision" in logged.read_text()
    assert os.environ.get(RANK_STARTED_ENV) is None  # the child's env only
