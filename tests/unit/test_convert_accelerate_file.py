"""An accelerate config file's DeepSpeed and FSDP settings carried into the SFTJob, and a
note for every key left behind (sftjob_cli.accelerate_file), on real configs: TRL's own,
and the offload configs of PEFT's examples."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml
from sftjob_cli.accelerate import NAMED_CONFIGS, resolve_config, shape_from_launch
from sftjob_cli.accelerate_file import carried_settings
from sftjob_cli.cluster import Options
from sftjob_cli.errors import ConvertError
from sftjob_cli.pipeline import with_carried

# PEFT's examples/sft/configs/fsdp_config_qlora.yaml: FSDP1 (no fsdp_version), offload.
PEFT_FSDP_QLORA = {
    "compute_environment": "LOCAL_MACHINE",
    "debug": False,
    "distributed_type": "FSDP",
    "downcast_bf16": "no",
    "fsdp_config": {
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_backward_prefetch": "BACKWARD_PRE",
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_forward_prefetch": False,
        "fsdp_offload_params": True,
        "fsdp_sharding_strategy": "FULL_SHARD",
        "fsdp_state_dict_type": "SHARDED_STATE_DICT",
        "fsdp_sync_module_states": True,
        "fsdp_use_orig_params": False,
    },
    "machine_rank": 0,
    "main_training_function": "main",
    "mixed_precision": "no",
    "num_machines": 1,
    "num_processes": 2,
    "rdzv_backend": "static",
    "same_network": True,
    "tpu_env": [],
    "tpu_use_cluster": False,
    "tpu_use_sudo": False,
    "use_cpu": False,
}
# PEFT's README (DeepSpeed ZeRO-3 with CPU offload), in accelerate's older layout.
PEFT_ZERO3_CPU = {
    "compute_environment": "LOCAL_MACHINE",
    "deepspeed_config": {
        "gradient_accumulation_steps": 1,
        "gradient_clipping": 1.0,
        "offload_optimizer_device": "cpu",
        "offload_param_device": "cpu",
        "zero3_init_flag": True,
        "zero3_save_16bit_model": True,
        "zero_stage": 3,
    },
    "distributed_type": "DEEPSPEED",
    "downcast_bf16": "no",
    "dynamo_backend": "NO",
    "fsdp_config": {},
    "machine_rank": 0,
    "main_training_function": "main",
    "megatron_lm_config": {},
    "mixed_precision": "bf16",
    "num_machines": 1,
    "num_processes": 8,
    "rdzv_backend": "static",
    "same_network": True,
    "use_cpu": False,
}


def _no_file(path: str) -> Any:
    raise AssertionError(f"nothing to read: {path}")


def test_fsdp1_with_offload_keeps_its_version_offload_and_state_dict() -> None:
    carried = carried_settings(PEFT_FSDP_QLORA, "f.yaml", _no_file)
    assert carried.sft_config == {
        "fsdp_config": {
            "version": 1,  # accelerate's default where the file names none
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "backward_prefetch": "BACKWARD_PRE",
            "cpu_ram_efficient_loading": True,
            "forward_prefetch": False,
            "cpu_offload": True,
            "reshard_after_forward": "FULL_SHARD",  # FSDP1's sharding_strategy
            "state_dict_type": "SHARDED_STATE_DICT",
            "sync_module_states": True,
            "use_orig_params": False,
        }
    }
    # The boilerplate says nothing; mixed precision "no" is not the SFTJob's to take.
    assert carried.notes == (
        "dropped: f.yaml mixed_precision: 'no' is not carried: the operator takes mixed "
        "precision from sftConfig.bf16 / fp16",
    )


def test_zero3_offload_becomes_the_inline_deepspeed_config() -> None:
    carried = carried_settings(PEFT_ZERO3_CPU, "z.yaml", _no_file)
    assert carried.sft_config == {
        "deepspeed": {
            "zero_optimization": {
                "stage": 3,
                "offload_optimizer": {"device": "cpu"},
                "offload_param": {"device": "cpu"},
                "stage3_gather_16bit_weights_on_model_save": True,
            }
        }
    }
    assert carried.notes == (
        "dropped: z.yaml gradient_clipping: 1.0 is not carried: set sftConfig.max_grad_norm "
        "(the Trainer fills DeepSpeed's from it)",
    )


def test_a_deepspeed_json_file_is_inlined() -> None:
    config = {
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {"deepspeed_config_file": "ds.json", "zero3_init_flag": True},
    }
    ds = {"zero_optimization": {"stage": 3, "offload_param": {"device": "nvme"}}}
    procs = resolve_config("a.yaml", {"a.yaml": config, "ds.json": ds}.__getitem__)
    assert procs.distributed == "deepspeed-zero3"
    assert procs.carried.sft_config == {"deepspeed": ds}


def test_sequence_parallelism_and_unknown_keys_are_reported_not_dropped_silently() -> None:
    config = {
        "distributed_type": "MULTI_GPU",
        "num_processes": 4,
        "parallelism_config": {"parallelism_config_sp_size": 2},
        "main_process_ip": "10.0.0.1",
        "something_new": 3,
    }
    notes = carried_settings(config, "c.yaml", _no_file).notes
    assert [n.split(" is not carried")[0] for n in notes] == [
        "dropped: c.yaml parallelism_config: {'parallelism_config_sp_size': 2}",
        "dropped: c.yaml main_process_ip: '10.0.0.1'",
        "dropped: c.yaml something_new: 3",
    ]
    assert "no sequence or context parallelism" in notes[0]


def test_an_fsdp1_strategy_without_an_fsdp2_form_is_refused() -> None:
    config = {
        "distributed_type": "FSDP",
        "fsdp_config": {"fsdp_version": 2, "fsdp_sharding_strategy": "HYBRID_SHARD"},
    }
    with pytest.raises(ConvertError, match="HYBRID_SHARD has no FSDP2 form"):
        carried_settings(config, "h.yaml", _no_file)


def _trl_config(name: str) -> Any:
    return yaml.safe_load(
        resources.files("trl.accelerate_configs").joinpath(f"{name}.yaml").read_text()
    )


TRL_NAMES = sorted(
    p.name.removesuffix(".yaml")
    for p in resources.files("trl.accelerate_configs").iterdir()
    if p.name.endswith(".yaml")
)


@pytest.mark.parametrize("name", TRL_NAMES)
def test_each_trl_config_name_converts_as_trls_own_file(name: str) -> None:
    """NAMED_CONFIGS holds what makes the SFTJob in TRL's files: the same shape, the same
    carried settings and notes as the installed (pinned) TRL's file itself."""
    assert name in NAMED_CONFIGS
    by_name = resolve_config(name, _no_file)
    by_file = resolve_config("trl.yaml", {"trl.yaml": _trl_config(name)}.__getitem__)
    assert by_name.distributed == by_file.distributed
    assert (by_name.total, by_name.machines) == (by_file.total, by_file.machines)
    assert by_name.carried.sft_config == by_file.carried.sft_config
    assert [n.replace(name, "X") for n in by_name.carried.notes] == [
        n.replace("trl.yaml", "X") for n in by_file.carried.notes
    ]


def test_fsdp1_by_name_is_fsdp1() -> None:
    shape = shape_from_launch({"accelerate_config": "fsdp1"}, _no_file)
    assert shape.carried.sft_config["fsdp_config"]["version"] == 1


def test_the_recipes_own_inline_keys_win_and_another_strategy_carries_nothing() -> None:
    shape = shape_from_launch({"accelerate_config": "f.yaml"}, {"f.yaml": PEFT_FSDP_QLORA}.get)
    blocks = {"sftConfig": {"fsdp_config": {"cpu_offload": False}, "bf16": True}}
    merged, notes = with_carried(blocks, shape, Options())
    assert merged["sftConfig"]["fsdp_config"]["cpu_offload"] is False
    assert merged["sftConfig"]["fsdp_config"]["state_dict_type"] == "SHARDED_STATE_DICT"
    assert merged["sftConfig"]["bf16"] is True
    assert "translated: the accelerate config's fsdp_config -> spec.sftConfig.fsdp_config " in (
        "\n".join(notes)
    )

    merged, notes = with_carried(blocks, shape, Options(distributed="ddp"))
    assert merged == blocks
    assert notes[-1] == (
        "dropped: the accelerate config's fsdp_config is not carried: --distributed ddp "
        "chooses another strategy"
    )
    flagged = shape_from_launch(
        {"accelerate_config": "f.yaml", "multi_gpu": True}, {"f.yaml": PEFT_FSDP_QLORA}.get
    )
    assert flagged.distributed == "ddp" and not flagged.carried.sft_config
    assert flagged.carried.notes[-1].startswith("dropped: the accelerate config's fsdp_config")


def test_an_unsupported_distributed_type_lists_the_supported_ones() -> None:
    config = {"distributed_type": "BOGUS", "num_processes": 2}
    with pytest.raises(ConvertError) as caught:
        resolve_config("f.yaml", {"f.yaml": config}.get)
    message = str(caught.value)
    assert "distributed_type BOGUS is not supported by an SFTJob" in message
    assert "NO, MULTI_CPU, MULTI_GPU, DEEPSPEED, FSDP" in message
