"""One DeepSpeed/FSDP config: inline recipe configs decide `auto`, merge over the defaults,
and contradictions are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from sftjob_operator.api.normalize import SpecError, normalize
from sftjob_operator.render import render_children

from tests.unit.test_render_cases import body

MODEL = {"model_name_or_path": "m"}
ZERO2 = {"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}}


def job_spec(sft: dict[str, Any], **cluster: Any) -> dict[str, Any]:
    return {
        "nodes": 1,
        "gpusPerNode": 8,
        "scriptArgs": {"dataset_name": "d"},
        "modelConfig": MODEL,
        "sftConfig": sft,
        **cluster,
    }


def rendered(spec: dict[str, Any]) -> dict[str, str]:
    normalized = normalize(spec)
    children = render_children(body("j", spec), normalized.trl_config)
    return next(c for c in children if c["kind"] == "ConfigMap")["data"]


def test_inline_deepspeed_decides_auto_and_is_merged_over_the_defaults() -> None:
    user = {**ZERO2, "gradient_clipping": 0.5, "bf16": {"enabled": True}}
    files = rendered(job_spec({"deepspeed": user}))
    merged = json.loads(files["deepspeed.json"])
    assert merged["zero_optimization"]["stage"] == 2
    assert merged["zero_optimization"]["offload_optimizer"] == {"device": "cpu"}
    assert merged["zero_optimization"]["overlap_comm"] is True  # an operator default kept
    assert merged["gradient_clipping"] == 0.5  # the user's key wins over "auto"
    assert merged["bf16"] == {"enabled": True}
    assert merged["train_micro_batch_size_per_gpu"] == "auto"
    accelerate = yaml.safe_load(files["accelerate.yaml"])
    assert accelerate["distributed_type"] == "DEEPSPEED"
    assert accelerate["deepspeed_config"]["zero3_init_flag"] is False
    assert "deepspeed" not in yaml.safe_load(files["trl.yaml"])  # one config: the launch's


def test_explicit_stage_fills_an_inline_config_without_one() -> None:
    files = rendered(
        job_spec({"deepspeed": {"gradient_clipping": 1.0}}, distributed="deepspeed-zero3")
    )
    merged = json.loads(files["deepspeed.json"])
    assert merged["zero_optimization"]["stage"] == 3 and merged["gradient_clipping"] == 1.0


def test_inline_fsdp_decides_auto_and_reaches_accelerate() -> None:
    sft = {
        "fsdp": "full_shard offload auto_wrap",
        "fsdp_config": {
            "fsdp_transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"],
            "activation_checkpointing": True,
        },
    }
    files = rendered(job_spec(sft))
    fsdp = yaml.safe_load(files["accelerate.yaml"])["fsdp_config"]
    assert fsdp == {
        "fsdp_activation_checkpointing": True,
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_offload_params": True,
        "fsdp_reshard_after_forward": True,
        "fsdp_state_dict_type": "FULL_STATE_DICT",
        "fsdp_transformer_layer_cls_to_wrap": "LlamaDecoderLayer",
        "fsdp_version": 2,
    }
    trl = yaml.safe_load(files["trl.yaml"])
    assert not {"fsdp", "fsdp_config"} & set(trl)


@pytest.mark.parametrize(
    ("sft", "strategy"),
    [
        ({"fsdp": True}, "FULL_SHARD"),
        ({"fsdp": "shard_grad_op auto_wrap"}, "SHARD_GRAD_OP"),
        ({"fsdp": True, "fsdp_config": {"reshard_after_forward": "hybrid_shard"}}, "HYBRID_SHARD"),
    ],
)
def test_fsdp1_gets_a_sharding_strategy_in_place_of_reshard_after_forward(
    sft: dict[str, Any], strategy: str
) -> None:
    sft = {**sft, "fsdp_config": {**sft.get("fsdp_config", {}), "version": 1}}
    fsdp = yaml.safe_load(rendered(job_spec(sft))["accelerate.yaml"])["fsdp_config"]
    assert fsdp["fsdp_version"] == 1
    assert fsdp["fsdp_sharding_strategy"] == strategy
    assert "fsdp_reshard_after_forward" not in fsdp


def test_without_inline_configs_auto_keeps_its_rules() -> None:
    accelerate = yaml.safe_load(rendered(job_spec({}))["accelerate.yaml"])
    assert accelerate["distributed_type"] == "MULTI_GPU"


@pytest.mark.parametrize(
    ("sft", "cluster", "field", "words"),
    [
        ({"deepspeed": ZERO2}, {"distributed": "deepspeed-zero3"}, "stage", "contradicts"),
        ({"deepspeed": ZERO2}, {"distributed": "ddp"}, "spec.distributed", "auto or deepspeed"),
        ({"deepspeed": {"bf16": {}}}, {}, "stage", "is missing"),
        ({"deepspeed": {"zero_optimization": {"stage": 0}}}, {}, "stage", "ddp"),
        ({"deepspeed": {"zero_optimization": [1]}}, {}, "zero_optimization", "not a mapping"),
        # falsy, as the admission rule has it: written, it is a mapping
        ({"deepspeed": {"zero_optimization": []}}, {}, "zero_optimization", "not a mapping"),
        ({"deepspeed": "ds.json"}, {}, "spec.sftConfig.deepspeed", "inline"),
        ({"fsdp": "hybrid_shard"}, {}, "spec.sftConfig.fsdp", "not an FSDP2 option"),
        ({"fsdp": True}, {"distributed": "deepspeed-zero2"}, "spec.distributed", "auto or fsdp"),
        ({"fsdp": True, "fsdp_config": {"xla": True}}, {}, "fsdp_config.xla", "accelerate"),
        ({"fsdp_config": {"version": 2}}, {}, "spec.sftConfig.fsdp_config", "FSDP is not on"),
        ({"fsdp": True}, {"gpusPerNode": 0}, "spec.sftConfig.fsdp", "needs GPUs"),
    ],
)
def test_contradictions_are_refused(
    sft: dict[str, Any], cluster: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as err:
        normalize(job_spec(sft, **cluster))
    assert field in err.value.field and words in err.value.message, err.value
