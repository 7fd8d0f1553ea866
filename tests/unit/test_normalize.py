"""normalize(): spec -> flat TRL config, with legacy names translated and reported."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api.normalize import NormalizedConfig, SpecError, Translation, normalize

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


def spec(**blocks: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scriptArgs": {"dataset_name": "trl-lib/Capybara"},
        "modelConfig": {"model_name_or_path": "Qwen/Qwen2-0.5B"},
        "sftConfig": {},
        "nodes": 1,
        "gpusPerNode": 1,
        "distributed": "auto",
    }
    for key, value in blocks.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def one(result: NormalizedConfig, field: str) -> Translation:
    found = [t for t in result.translations if t.field == field]
    assert len(found) == 1, result.translations
    return found[0]


def test_current_fields_pass_through_flat() -> None:
    out = normalize(spec(sftConfig={"learning_rate": 1e-4, "packing": True}))
    assert out.trl_config == {
        "dataset_name": "trl-lib/Capybara",
        "model_name_or_path": "Qwen/Qwen2-0.5B",
        "learning_rate": 1e-4,
        "packing": True,
        "output_dir": "/workspace/output",
    }
    assert out.translations == ()


def test_cluster_fields_and_none_values_are_left_out() -> None:
    out = normalize(spec(sftConfig={"output_dir": None, "seed": 1}, storage={"size": "1Gi"}))
    assert out.trl_config["output_dir"] == "/workspace/output"
    assert "storage" not in out.trl_config and "nodes" not in out.trl_config


@pytest.mark.parametrize(
    ("written", "resolved"),
    [
        ("data/zephyr-7b-sft-full", "/workspace/output/data/zephyr-7b-sft-full"),
        ("./sft_output", "/workspace/output/sft_output"),
        ("/workspace/output/llama", "/workspace/output/llama"),
        ("/workspace/output/", "/workspace/output"),
        (".", "/workspace/output"),
    ],
)
def test_output_dir_resolves_on_the_storage(written: str, resolved: str) -> None:
    out = normalize(spec(sftConfig={"output_dir": written}))
    assert out.trl_config["output_dir"] == resolved


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("/home/alice/out", "outside the job's storage"),
        ("/workspace/outputs", "outside the job's storage"),
        ("../elsewhere", "leaves the storage"),
        ("/workspace/output/../x", "leaves the storage"),
    ],
)
def test_output_dir_off_the_storage_is_refused(written: str, words: str) -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(sftConfig={"output_dir": written}))
    assert err.value.field == "spec.sftConfig.output_dir"
    assert words in err.value.message and "relative path" in err.value.message


def test_null_reaches_trl_only_where_it_means_something() -> None:
    out = normalize(spec(sftConfig={"max_length": None, "seed": None}))
    assert out.trl_config["max_length"] is None  # no truncation, as vision recipes ask
    assert "seed" not in out.trl_config  # TRL's default applies


def test_the_spec_is_not_changed() -> None:
    original = spec(
        scriptArgs={"skip_prepare_dataset": True},
        sftConfig={"dataset_kwargs": {"other": 1}, "evaluation_strategy": "steps"},
    )
    frozen = copy.deepcopy(original)
    normalize(original)
    assert original == frozen


@pytest.mark.parametrize(
    ("block", "old", "value", "new", "new_value", "action"),
    [
        ("sftConfig", "evaluation_strategy", "steps", "eval_strategy", "steps", "renamed"),
        ("sftConfig", "max_seq_length", 2048, "max_length", 2048, "renamed"),
        ("sftConfig", "per_gpu_train_batch_size", 4, "per_device_train_batch_size", 4, "renamed"),
        ("sftConfig", "per_gpu_eval_batch_size", 4, "per_device_eval_batch_size", 4, "renamed"),
        ("sftConfig", "use_liger", True, "use_liger_kernel", True, "renamed"),
        ("sftConfig", "no_cuda", True, "use_cpu", True, "renamed"),
        ("sftConfig", "warmup_ratio", 0.1, "warmup_steps", 0.1, "renamed"),
        ("sftConfig", "push_to_hub_model_id", "o/m", "hub_model_id", "o/m", "renamed"),
        (
            "sftConfig",
            "group_by_length",
            True,
            "train_sampling_strategy",
            "group_by_length",
            "value-translated",
        ),
        ("sftConfig", "adafactor", True, "optim", "adafactor", "value-translated"),
        ("modelConfig", "torch_dtype", "bfloat16", "dtype", "bfloat16", "renamed"),
        ("modelConfig", "trust_remote_code", True, "trust_remote_code", True, "moved"),
        ("modelConfig", "peft_type", "lora", "use_peft", True, "value-translated"),
        ("modelConfig", "quant_target_bits", 4, "load_in_4bit", True, "value-translated"),
        ("modelConfig", "quant_target_bits", 8, "load_in_8bit", True, "value-translated"),
    ],
)
def test_legacy_names_are_translated(
    block: str, old: str, value: Any, new: str, new_value: Any, action: str
) -> None:
    out = normalize(spec(**{block: {old: value}}))
    assert out.trl_config[new] == new_value
    assert old not in out.trl_config or old == new
    t = one(out, f"spec.{block}.{old}")
    assert t.action == action
    assert new in t.message


@pytest.mark.parametrize(
    ("block", "old", "value", "path"),
    [
        ("scriptArgs", "skip_prepare_dataset", True, ("dataset_kwargs", "skip_prepare_dataset")),
        ("sftConfig", "dispatch_batches", False, ("accelerator_config", "dispatch_batches")),
        ("sftConfig", "fsdp_min_num_params", 100, ("fsdp_config", "min_num_params")),
        (
            "scriptArgs",
            "gradient_checkpointing_use_reentrant",
            False,
            ("gradient_checkpointing_kwargs", "use_reentrant"),
        ),
    ],
)
def test_moves_into_nested_objects(block: str, old: str, value: Any, path: tuple[str, str]) -> None:
    fsdp = {"fsdp": True} if path[0] == "fsdp_config" else {}
    out = normalize(spec(**{block: {old: value, **fsdp}}))
    assert out.trl_config[path[0]] == {path[1]: value}
    assert one(out, f"spec.{block}.{old}").action == "moved"


def test_nested_move_merges_with_existing_object() -> None:
    out = normalize(
        spec(sftConfig={"dispatch_batches": False, "accelerator_config": {"split_batches": True}})
    )
    assert out.trl_config["accelerator_config"] == {
        "split_batches": True,
        "dispatch_batches": False,
    }


def test_nested_move_into_a_string_is_an_error() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(sftConfig={"dispatch_batches": True, "accelerator_config": "a.json"}))
    assert err.value.field == "spec.sftConfig.dispatch_batches"


@pytest.mark.parametrize(
    ("block", "name", "value"),
    [
        ("sftConfig", "overwrite_output_dir", True),
        ("sftConfig", "logging_dir", "runs"),
        ("sftConfig", "save_safetensors", True),
        ("sftConfig", "group_by_length", False),
        ("sftConfig", "dataset_batch_size", 1000),
        ("sftConfig", "fp16_backend", "auto"),
        ("modelConfig", "device_map", "auto"),
    ],
)
def test_dropped_fields_are_reported(block: str, name: str, value: Any) -> None:
    out = normalize(spec(**{block: {name: value}}))
    assert name not in out.trl_config
    t = one(out, f"spec.{block}.{name}")
    assert t.action == "dropped"
    assert "ignored" in t.message


@pytest.mark.parametrize(
    ("block", "name", "value", "advice"),
    [
        ("sftConfig", "hub_token", "hf_x", "hubTokenSecretRef"),
        ("sftConfig", "push_to_hub_token", "hf_x", "hubTokenSecretRef"),
        ("sftConfig", "peft_config", {"r": 8}, "use_peft"),
        ("sftConfig", "save_safetensors", False, "remove it"),
        ("sftConfig", "local_rank", 0, "remove it"),
        ("sftConfig", "tp_size", 8, "Remove it"),
        ("scriptArgs", "max_samples", 10, "split"),
        ("scriptArgs", "template_name", "alpaca", "chat_template_path"),
        ("modelConfig", "peft_type", "prefix_tuning", "use_peft"),
        ("modelConfig", "quant_target_bits", 3, "load_in_4bit"),
    ],
)
def test_rejected_fields_say_what_to_write(block: str, name: str, value: Any, advice: str) -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(**{block: {name: value}}))
    assert err.value.field == f"spec.{block}.{name}"
    assert advice in err.value.message


def test_bool_cases_do_not_match_integers() -> None:
    # tp_size: 1 is dropped, but true is not 1.
    with pytest.raises(SpecError):
        normalize(spec(sftConfig={"tp_size": True}))
    assert normalize(spec(sftConfig={"tp_size": 1})).translations[0].action == "dropped"


@pytest.mark.parametrize(
    ("block", "name", "old", "new"),
    [
        ("modelConfig", "attn_implementation", "flash", "flash_attention_2"),
        ("modelConfig", "attn_implementation", "default", "sdpa"),
        ("sftConfig", "packing_strategy", "ffd", "bfd"),
        ("sftConfig", "packing_strategy", "bfd-requeue", "bfd_split"),
        ("sftConfig", "loss_type", "chunked_nll", "nll"),
        ("sftConfig", "optim", "adamw_hf", "adamw_torch"),
    ],
)
def test_legacy_values_are_translated(block: str, name: str, old: str, new: str) -> None:
    out = normalize(spec(**{block: {name: old}}))
    assert out.trl_config[name] == new
    t = one(out, f"spec.{block}.{name}")
    assert t.action == "value-translated"
    assert f'"{old}"' in t.message and f'"{new}"' in t.message


def test_rejected_legacy_value() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(modelConfig={"attn_implementation": "xformers"}))
    assert err.value.field == "spec.modelConfig.attn_implementation"
    assert "sdpa" in err.value.message


def test_old_and_new_name_with_different_values_conflict() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(sftConfig={"evaluation_strategy": "steps", "eval_strategy": "no"}))
    assert err.value.field == "spec.sftConfig.evaluation_strategy"
    assert "spec.sftConfig.eval_strategy" in err.value.message


def test_old_and_new_name_with_the_same_value_are_fine() -> None:
    out = normalize(spec(sftConfig={"evaluation_strategy": "steps", "eval_strategy": "steps"}))
    assert out.trl_config["eval_strategy"] == "steps"


def test_warmup_ratio_replaces_zero_warmup_steps() -> None:
    out = normalize(spec(sftConfig={"warmup_ratio": 0.05, "warmup_steps": 0}))
    assert out.trl_config["warmup_steps"] == 0.05


def test_warmup_steps_win_over_warmup_ratio_as_in_transformers_4() -> None:
    out = normalize(spec(sftConfig={"warmup_ratio": 0.05, "warmup_steps": 100}))
    assert out.trl_config["warmup_steps"] == 100
    assert one(out, "spec.sftConfig.warmup_ratio").action == "dropped"


def test_unknown_field_suggests_the_close_name() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(sftConfig={"learning_rat": 1e-4}))
    assert err.value.field == "spec.sftConfig.learning_rat"
    assert "did you mean learning_rate" in err.value.message


def test_field_in_the_wrong_block_names_the_right_one() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(sftConfig={"lora_r": 8}))
    assert "spec.modelConfig.lora_r" in err.value.message


def test_block_must_be_an_object() -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(sftConfig=["learning_rate"]))
    assert err.value.field == "spec.sftConfig"


@pytest.mark.parametrize(
    ("block", "name", "good", "bad"),
    [
        ("sftConfig", "deepspeed", {"zero_optimization": {"stage": 2}}, 3),
        ("sftConfig", "lr_scheduler_kwargs", '{"num_cycles": 2}', True),
        ("sftConfig", "report_to", ["wandb", "tensorboard"], [1]),
        ("sftConfig", "include_num_input_tokens_seen", "non_padding", 1),
    ],
)
def test_untyped_fields_are_checked_here(block: str, name: str, good: Any, bad: Any) -> None:
    assert normalize(spec(**{block: {name: good}})).trl_config[name] == good
    with pytest.raises(SpecError) as err:
        normalize(spec(**{block: {name: bad}}))
    assert err.value.field == f"spec.{block}.{name}"


def test_dataset_data_files_kind_is_checked() -> None:
    mixture = {"datasets": [{"path": "json", "data_files": 5}]}
    with pytest.raises(SpecError) as err:
        normalize(spec(scriptArgs={}, datasetMixture=mixture))
    assert err.value.field == "spec.datasetMixture.datasets[0].data_files"


@pytest.mark.parametrize(
    ("block", "a", "b"),
    [("sftConfig", "bf16", "fp16"), ("modelConfig", "load_in_4bit", "load_in_8bit")],
)
def test_exclusive_flags(block: str, a: str, b: str) -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(**{block: {a: True, b: True}}))
    assert err.value.field == f"spec.{block}.{b}"


def test_quantization_bits_conflicting_with_the_flag() -> None:
    with pytest.raises(SpecError):
        normalize(spec(modelConfig={"quant_target_bits": 8, "load_in_4bit": True}))


ZERO3 = {"zero_optimization": {"stage": 3}}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"sftConfig": {"deepspeed": ZERO3, "fsdp": True}}, "spec.sftConfig.fsdp"),
        ({"sftConfig": {"deepspeed": ZERO3}, "gpusPerNode": 0}, "spec.sftConfig.deepspeed"),
        ({"sftConfig": {"fsdp": "full_shard"}, "gpusPerNode": 0}, "spec.sftConfig.fsdp"),
        ({"sftConfig": {"deepspeed": ZERO3}, "distributed": "fsdp"}, "spec.distributed"),
        ({"sftConfig": {"fsdp": True}, "distributed": "ddp"}, "spec.distributed"),
        ({"sftConfig": {"deepspeed": "ds.json"}}, "spec.sftConfig.deepspeed"),
    ],
)
def test_parallelism_rules_the_crd_cannot_express(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as err:
        normalize(spec(**extra))
    assert err.value.field == field


def test_fsdp_false_is_not_fsdp() -> None:
    out = normalize(spec(sftConfig={"fsdp": False}, gpusPerNode=0))
    assert out.trl_config["fsdp"] is False


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_normalize(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    out = normalize(doc["spec"])
    assert out.trl_config["model_name_or_path"]
    nulls = {k for k, v in out.trl_config.items() if v is None}
    assert nulls <= {"max_length"}, nulls  # only where null means something to TRL


def test_legacy_example_reports_every_translation() -> None:
    doc = yaml.safe_load((Path(EXAMPLES[0]).parent / "legacy-seed-config.yaml").read_text())
    out = normalize(doc["spec"])
    fields = {t.field.rsplit(".", 1)[1] for t in out.translations}
    assert fields == {
        "skip_prepare_dataset",
        "trust_remote_code",
        "torch_dtype",
        "attn_implementation",
        "peft_type",
        "device_map",
        "overwrite_output_dir",
        "logging_dir",
        "evaluation_strategy",
        "max_seq_length",
    }
