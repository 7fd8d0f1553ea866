"""Which DeepSpeed/FSDP config reaches TrainingArguments and accelerate, in a real launch.

The operator renders the job's ConfigMap from a spec with an inline recipe config; the
pod's own launcher (`plan_launch`) runs the real `accelerate launch` over those files, with
the training program swapped for `launch_probe`, which reports what TrainingArguments and
accelerate's DeepSpeed/FSDP plugins would train with. No GPU is needed to launch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api.normalize import normalize
from sftjob_operator.render import render_children
from sftjob_trainer.launcher import TRAIN_MODULE, plan_launch
from trainer_helpers import RUN_TIMEOUT_S, free_port

from tests.unit.test_render_cases import body

pytestmark = pytest.mark.trainer

HERE = Path(__file__).resolve().parent


def launch(tmp_path: Path, sft: dict[str, Any]) -> dict[str, Any]:
    spec = {
        "nodes": 1,
        "gpusPerNode": 1,
        "scriptArgs": {"dataset_name": "d"},
        "modelConfig": {"model_name_or_path": "m"},
        # bf16 off: TrainingArguments refuses bf16 on a machine without a GPU.
        "sftConfig": {"bf16": False, **sft},
    }
    normalized = normalize(spec)
    children = render_children(body("j", spec), normalized.trl_config)
    files = next(c for c in children if c["kind"] == "ConfigMap")["data"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    accelerate = yaml.safe_load(files["accelerate.yaml"])
    if "deepspeed_config" in accelerate:  # the pod mounts it at /etc/sftjob; here, tmp_path
        accelerate["deepspeed_config"]["deepspeed_config_file"] = str(tmp_path / "deepspeed.json")
        (tmp_path / "accelerate.yaml").write_text(yaml.safe_dump(accelerate))
    plan = plan_launch(
        python=sys.executable,
        trl_config_path=str(tmp_path / "trl.yaml"),
        accelerate_config_path=str(tmp_path / "accelerate.yaml"),
        accelerate_config=accelerate,
        env={"SFTJOB_NUM_NODES": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())},
    )
    argv = ["launch_probe" if arg == TRAIN_MODULE else arg for arg in plan.argv]
    env = {**os.environ, **plan.env, "PYTHONPATH": str(HERE), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("PROBE ")]
    return dict(json.loads(line.removeprefix("PROBE ")))


def test_inline_deepspeed_reaches_accelerate_merged_and_trainingargs_defers(
    tmp_path: Path,
) -> None:
    inline = {
        "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}},
        "gradient_clipping": 0.5,
    }
    seen = launch(tmp_path, {"deepspeed": inline})
    # TrainingArguments has no second config: the Trainer takes accelerate's plugin.
    assert seen["training_args"]["deepspeed"] is None
    config = seen["deepspeed"]
    assert config["zero_optimization"]["stage"] == 2
    assert config["zero_optimization"]["offload_optimizer"] == {"device": "cpu"}
    assert config["zero_optimization"]["overlap_comm"] is True  # the operator's default
    assert config["gradient_clipping"] == 0.5  # the recipe's value over "auto"
    assert config["train_micro_batch_size_per_gpu"] == "auto"  # filled from SFTConfig
    assert "fsdp" not in seen


def test_inline_fsdp_reaches_accelerate_and_trainingargs_defers(tmp_path: Path) -> None:
    sft = {
        "fsdp": "full_shard offload auto_wrap",
        "fsdp_config": {"transformer_layer_cls_to_wrap": ["Qwen2DecoderLayer"]},
    }
    seen = launch(tmp_path, sft)
    assert seen["training_args"] == {"deepspeed": None, "fsdp": None, "fsdp_plugin_args": None}
    assert seen["fsdp"] == {
        "fsdp_version": 2,
        "reshard_after_forward": True,
        "sharding_strategy": "None",
        "cpu_offload": "CPUOffloadPolicy",  # "offload" from the recipe's fsdp words
        "transformer_cls_names_to_wrap": ["Qwen2DecoderLayer"],
        "activation_checkpointing": False,
    }
    assert "deepspeed" not in seen


def test_inline_fsdp1_reaches_accelerate_as_a_sharding_strategy(tmp_path: Path) -> None:
    """FSDP1 shards by a sharding strategy, where FSDP2 takes reshard_after_forward."""
    # (sync_module_states would ask for a GPU here)
    config = {"version": 1, "sync_module_states": False, "cpu_ram_efficient_loading": False}
    sft = {"fsdp": "shard_grad_op auto_wrap", "fsdp_config": config}
    seen = launch(tmp_path, sft)
    assert seen["fsdp"]["fsdp_version"] == 1
    assert seen["fsdp"]["sharding_strategy"] == "ShardingStrategy.SHARD_GRAD_OP"
