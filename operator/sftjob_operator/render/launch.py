"""accelerate.yaml and deepspeed.json, from the plan and the TRL config.

Keys follow accelerate's ClusterConfig (unknown keys make `accelerate launch` fail).
For DeepSpeed the precision lives only in deepspeed.json ("auto", filled by HF's
integration from SFTConfig bf16/fp16): accelerate refuses a `mixed_precision` in the
accelerate config next to a `deepspeed_config_file`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sftjob_operator.api import parallelism
from sftjob_operator.api.paths import (
    ACCELERATE_CONFIG_FILE,
    CONFIG_DIR,
    DEEPSPEED_CONFIG_FILE,
    TRL_CONFIG_FILE,
)
from sftjob_operator.render import names
from sftjob_operator.render.plan import Plan

TRL_CONFIG_PATH = f"{CONFIG_DIR}/{TRL_CONFIG_FILE}"
ACCELERATE_CONFIG_PATH = f"{CONFIG_DIR}/{ACCELERATE_CONFIG_FILE}"
DEEPSPEED_CONFIG_PATH = f"{CONFIG_DIR}/{DEEPSPEED_CONFIG_FILE}"

_DISTRIBUTED_TYPE = {
    "ddp": "MULTI_GPU",
    "fsdp": "FSDP",
    "deepspeed-zero1": "DEEPSPEED",
    "deepspeed-zero2": "DEEPSPEED",
    "deepspeed-zero3": "DEEPSPEED",
}


def distributed_type(plan: Plan) -> str:
    if plan.strategy == "none":
        return "NO"
    if plan.gpus_per_node == 0:
        return "MULTI_CPU"
    return _DISTRIBUTED_TYPE[plan.strategy]


def mixed_precision(plan: Plan, trl_config: Mapping[str, Any]) -> str:
    """fp16 or bf16 when the config asks for it; SFTConfig defaults bf16 on when fp16 is off."""
    if trl_config.get("fp16"):
        return "fp16"
    bf16 = trl_config.get("bf16")
    if bf16 or (bf16 is None and plan.gpus_per_node > 0):
        return "bf16"
    return "no"


def accelerate_config(plan: Plan, trl_config: Mapping[str, Any]) -> dict[str, Any]:
    cpu = plan.gpus_per_node == 0
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": distributed_type(plan),
        "num_machines": plan.nodes,
        "num_processes": plan.nodes if cpu else plan.total_processes,
        "machine_rank": 0,
        "main_process_port": names.RENDEZVOUS_PORT,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": cpu,
        "debug": False,
    }
    if plan.deepspeed_stage is not None:
        config["deepspeed_config"] = {
            "deepspeed_config_file": DEEPSPEED_CONFIG_PATH,
            "deepspeed_multinode_launcher": "standard",
            "zero3_init_flag": plan.deepspeed_stage == 3,
        }
    else:
        config["mixed_precision"] = mixed_precision(plan, trl_config)
    if plan.strategy == "fsdp":
        # The operator's defaults with the recipe's fsdp/fsdp_config over them.
        config["fsdp_config"] = parallelism.merged_fsdp(trl_config)
    return config


def merged_deepspeed_config(stage: int, trl_config: Mapping[str, Any]) -> dict[str, Any]:
    """deepspeed.json: the stage's defaults with the recipe's inline deepspeed over them."""
    return parallelism.merged_deepspeed(deepspeed_config(stage), trl_config)


def deepspeed_config(stage: int) -> dict[str, Any]:
    """A ZeRO config whose sizes are "auto", so HF's integration fills them from SFTConfig."""
    zero: dict[str, Any] = {
        "stage": stage,
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": "auto",
    }
    if stage >= 2:
        zero["allgather_partitions"] = True
        zero["allgather_bucket_size"] = 200_000_000
        zero["reduce_scatter"] = True
    if stage == 3:
        zero.update(
            {
                "stage3_prefetch_bucket_size": "auto",
                "stage3_param_persistence_threshold": "auto",
                "stage3_max_live_parameters": 1_000_000_000,
                "stage3_max_reuse_distance": 1_000_000_000,
                "stage3_gather_16bit_weights_on_model_save": True,
                "sub_group_size": 1_000_000_000,
            }
        )
    return {
        "bf16": {"enabled": "auto"},
        "fp16": {
            "enabled": "auto",
            "loss_scale": 0,
            "loss_scale_window": 1000,
            "initial_scale_power": 16,
            "hysteresis": 2,
            "min_loss_scale": 1,
        },
        "zero_optimization": zero,
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "steps_per_print": 2000,
        "wall_clock_breakdown": False,
    }
