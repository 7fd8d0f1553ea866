"""Multi-process runs launched the way the operator's pods launch them.

Each "pod" is `sftjob-train --config trl.yaml --accelerate-config accelerate.yaml` with the
pod environment: JOB_COMPLETION_INDEX, MASTER_ADDR, MASTER_PORT, SFTJOB_NUM_NODES,
SFTJOB_GPUS_PER_NODE (0: CPU, gloo).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from trainer_helpers import (
    accelerate_config,
    base_config,
    finish,
    free_port,
    run_trainer,
    start_node_pods,
    write_yaml,
)

pytestmark = pytest.mark.trainer

MAX_STEPS = 6


def test_world_size_one_under_accelerate_trains(tiny: Any, tmp_path: Path) -> None:
    config = write_yaml(
        tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", max_steps=MAX_STEPS)
    )
    accel = write_yaml(tmp_path / "accelerate.yaml", accelerate_config(1, 1))
    run = run_trainer(
        config,
        tmp_path,
        accel,
        JOB_COMPLETION_INDEX="0",
        SFTJOB_NUM_NODES="1",
        SFTJOB_GPUS_PER_NODE="0",
        MASTER_PORT=str(free_port()),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.finished_steps() == {0: MAX_STEPS}
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_world_size_one_under_accelerate_does_not_fail_silently(tiny: Any, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    config = write_yaml(
        tmp_path / "trl.yaml",
        base_config(tiny, tmp_path / "out", model_name_or_path=str(missing)),
    )
    accel = write_yaml(tmp_path / "accelerate.yaml", accelerate_config(1, 1))
    run = run_trainer(config, tmp_path, accel, JOB_COMPLETION_INDEX="0", SFTJOB_GPUS_PER_NODE="0")
    assert run.returncode != 0
    reason = (tmp_path / "termination-log").read_text()
    assert len(reason.strip().splitlines()) == 1
    assert "no-such-model" in reason


def test_two_processes_one_node(tiny: Any, tmp_path: Path) -> None:
    config = write_yaml(
        tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", max_steps=MAX_STEPS)
    )
    accel = write_yaml(tmp_path / "accelerate.yaml", accelerate_config(1, 2))
    run = run_trainer(
        config,
        tmp_path,
        accel,
        JOB_COMPLETION_INDEX="0",
        SFTJOB_NUM_NODES="1",
        SFTJOB_GPUS_PER_NODE="0",
        SFTJOB_PROCS_PER_NODE="2",
        MASTER_PORT=str(free_port()),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.finished_steps() == {0: MAX_STEPS, 1: MAX_STEPS}
    final = [r for r in run.progress() if r.get("final")]
    assert len(final) == 1  # only the main process reports
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_two_nodes_over_localhost_rendezvous(tiny: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, out, max_steps=MAX_STEPS))
    accel = write_yaml(tmp_path / "accelerate.yaml", accelerate_config(2, 2))
    pods = start_node_pods(config, accel, tmp_path)
    runs = [finish(proc, pod_dir, "trainer", env) for proc, pod_dir, env in pods]

    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    assert runs[0].finished_steps() == {0: MAX_STEPS}
    assert runs[1].finished_steps() == {1: MAX_STEPS}
    assert runs[0].progress()[-1]["final"] is True
    assert runs[1].progress() == []  # node 1 holds no main process
    assert (out / "model.safetensors").is_file()
