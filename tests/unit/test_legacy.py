"""The legacy table against the installed TRL/transformers, and the seed document's fields."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api.blocks import MODEL_CONFIG, SCRIPT_ARGS, SFT_CONFIG, TRL_BLOCKS
from sftjob_operator.api.legacy import LEGACY_FIELDS, VALUE_ALIASES, legacy_fields_by_key
from sftjob_operator.api.normalize import SpecError, normalize

# A copy of the seed document (shared/seed/), the field reference users paste from.
SEED = Path(__file__).resolve().parents[1] / "data" / "seed" / "000_5d01fc3255222100.txt"
SEED_SECTIONS = {
    "ScriptArguments": SCRIPT_ARGS,
    "ModelConfig": MODEL_CONFIG,
    "SFTConfig": SFT_CONFIG,
}

# A value for every field the seed document names, taken from the document (its default
# or its example). Fields it leaves at None get the example it gives.
SEED_VALUES: dict[tuple[str, str], Any] = {
    (SCRIPT_ARGS, "dataset_name"): "HuggingFaceH4/llava-instruct-mix-vsft",
    (SCRIPT_ARGS, "dataset_config"): "default",
    (SCRIPT_ARGS, "dataset_train_split"): "train",
    (SCRIPT_ARGS, "dataset_test_split"): "test",
    (SCRIPT_ARGS, "skip_prepare_dataset"): True,
    (SCRIPT_ARGS, "max_samples"): 1000,
    (SCRIPT_ARGS, "template_name"): "vicuna_v1",
    (MODEL_CONFIG, "model_name_or_path"): "llava-hf/llava-1.5-7b-hf",
    (MODEL_CONFIG, "trust_remote_code"): True,
    (MODEL_CONFIG, "torch_dtype"): "bfloat16",
    (MODEL_CONFIG, "model_revision"): "main",
    (MODEL_CONFIG, "attn_implementation"): "flash",
    (MODEL_CONFIG, "load_in_4bit"): False,
    (MODEL_CONFIG, "load_in_8bit"): False,
    (MODEL_CONFIG, "peft_type"): "lora",
    (MODEL_CONFIG, "quant_target_bits"): 4,
    (MODEL_CONFIG, "device_map"): "auto",
    (SFT_CONFIG, "output_dir"): "./my-sft-checkpoints",
    (SFT_CONFIG, "overwrite_output_dir"): False,
    (SFT_CONFIG, "do_train"): True,
    (SFT_CONFIG, "do_eval"): False,
    (SFT_CONFIG, "per_device_train_batch_size"): 8,
    (SFT_CONFIG, "per_device_eval_batch_size"): 8,
    (SFT_CONFIG, "gradient_accumulation_steps"): 8,
    (SFT_CONFIG, "learning_rate"): 5e-5,
    (SFT_CONFIG, "num_train_epochs"): 3,
    (SFT_CONFIG, "max_steps"): -1,
    (SFT_CONFIG, "warmup_steps"): 0,
    (SFT_CONFIG, "lr_scheduler_type"): "cosine_with_restarts",
    (SFT_CONFIG, "evaluation_strategy"): "steps",
    (SFT_CONFIG, "eval_steps"): 500,
    (SFT_CONFIG, "logging_steps"): 500,
    (SFT_CONFIG, "report_to"): "tensorboard",
    (SFT_CONFIG, "logging_dir"): "runs",
    (SFT_CONFIG, "save_steps"): 500,
    (SFT_CONFIG, "save_total_limit"): 2,
    (SFT_CONFIG, "bf16"): False,
    (SFT_CONFIG, "fp16"): False,
    (SFT_CONFIG, "gradient_checkpointing"): True,
    (SFT_CONFIG, "push_to_hub"): False,
    (SFT_CONFIG, "hub_model_id"): "my-org/llava-sft",
    (SFT_CONFIG, "hub_token"): "hf_xxx",
    (SFT_CONFIG, "remove_unused_columns"): False,
    (SFT_CONFIG, "peft_config"): {"r": 16},
    (SFT_CONFIG, "dataset_kwargs"): {"skip_prepare_dataset": True},
    (SFT_CONFIG, "seed"): 42,
    (SFT_CONFIG, "weight_decay"): 0.0,
    (SFT_CONFIG, "adam_beta1"): 0.9,
    (SFT_CONFIG, "adam_beta2"): 0.999,
    (SFT_CONFIG, "adam_epsilon"): 1e-8,
    (SFT_CONFIG, "max_grad_norm"): 1.0,
    (SFT_CONFIG, "deepspeed"): "ds_config.json",
    # Named in the document's notes on TrainingArguments.
    (SFT_CONFIG, "load_best_model_at_end"): True,
    (SFT_CONFIG, "metric_for_best_model"): "eval_loss",
    (SFT_CONFIG, "greater_is_better"): False,
    (SFT_CONFIG, "optim"): "adamw_torch",
    (SFT_CONFIG, "group_by_length"): True,
    (SFT_CONFIG, "label_smoothing_factor"): 0.1,
}
NOT_PARSED_HERE = {
    # TrainingArguments reads a deepspeed path when it is built; there is no such file here.
    (SFT_CONFIG, "deepspeed"),
    # 4 would mean load_in_4bit: true, which contradicts the load_in_4bit: false above
    # (normalize() rejects that); test_quantization_bits_round_trip covers it alone.
    (MODEL_CONFIG, "quant_target_bits"),
}


def seed_fields() -> set[tuple[str, str]]:
    """(block, field) for every backticked field name in the seed document's tables and notes."""
    found: set[tuple[str, str]] = set()
    block = None
    for line in SEED.read_text().splitlines():
        heading = re.match(r"^## \d+\. `(\w+)`", line)
        if heading:
            block = SEED_SECTIONS[heading.group(1)]
            continue
        if block is None:
            continue
        if line.startswith("|"):
            cell = line.split("|")[1]
        elif re.match(r"^>?\s*- 예:", line):
            cell = line
        else:
            continue
        found |= {(block, name) for name in re.findall(r"`([a-z][a-z0-9_]*)`", cell)}
    return found


@pytest.fixture(scope="module")
def trl_classes() -> dict[str, type]:
    import trl

    return {block: getattr(trl, name) for block, name in TRL_BLOCKS.items()}


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_seed_fields_all_have_a_test_value() -> None:
    assert seed_fields() == set(SEED_VALUES)


def test_legacy_names_are_gone_from_trl(trl_classes: dict[str, type]) -> None:
    for rec in LEGACY_FIELDS:
        if rec.action == "rejected" and not rec.cases:
            continue  # the spec may forbid a current field (hub_token, local_rank)
        assert rec.name not in _fields(trl_classes[rec.block]), rec.dotted


def test_legacy_targets_exist_in_trl(trl_classes: dict[str, type]) -> None:
    targets = [rec.target for rec in LEGACY_FIELDS] + [
        case.target for rec in LEGACY_FIELDS for case in rec.cases
    ]
    for target in targets:
        if target is not None:
            assert target.path[0] in _fields(trl_classes[target.block]), target.dotted


def test_value_alias_targets_are_valid_values(trl_classes: dict[str, type]) -> None:
    from transformers.training_args import OptimizerNames

    allowed = {
        (SFT_CONFIG, "optim"): {m.value for m in OptimizerNames},
        (SFT_CONFIG, "packing_strategy"): {"bfd", "bfd_split", "wrapped"},
        (SFT_CONFIG, "loss_type"): {"nll", "dft"},
        (MODEL_CONFIG, "attn_implementation"): {"sdpa", "eager", "flash_attention_2"},
    }
    for alias in VALUE_ALIASES:
        assert alias.name in _fields(trl_classes[alias.block])
        if alias.new is not None:
            assert alias.new in allowed[(alias.block, alias.name)], alias
            assert alias.old not in allowed[(alias.block, alias.name)], alias


def test_legacy_table_has_one_record_per_name() -> None:
    assert len(legacy_fields_by_key()) == len(LEGACY_FIELDS)


def _spec_with(pairs: dict[tuple[str, str], Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for (block, name), value in pairs.items():
        spec.setdefault(block, {})[name] = value
    return spec


def _rejected(block: str, name: str, value: Any) -> bool:
    try:
        normalize(_spec_with({(block, name): value}))
    except SpecError as err:
        assert err.field == f"spec.{block}.{name}"
        assert any(verb in err.message.lower() for verb in ("write ", "set ", "remove")), err
        return True
    return False


@pytest.mark.parametrize(("key", "value"), sorted(SEED_VALUES.items()))
def test_every_seed_field_is_accepted_or_rejected_with_advice(
    key: tuple[str, str], value: Any
) -> None:
    block, name = key
    if _rejected(block, name, value):
        return
    out = normalize(_spec_with({key: value}))
    recorded = {t.field for t in out.translations}
    assert name in out.trl_config or f"spec.{block}.{name}" in recorded


def accepted_seed_values() -> dict[tuple[str, str], Any]:
    return {
        key: value
        for key, value in SEED_VALUES.items()
        if key not in NOT_PARSED_HERE and not _rejected(*key, value)
    }


def test_seed_config_round_trips_through_trl_parser(tmp_path: Path) -> None:
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, SFTConfig, TrlParser

    accepted = accepted_seed_values()
    assert len(accepted) >= len(SEED_VALUES) - 8
    config = normalize(_spec_with(accepted)).trl_config
    path = tmp_path / "trl.yaml"
    path.write_text(yaml.safe_dump(config))

    dataclass_types = (ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig)
    known = set().union(*(_fields(cls) for cls in dataclass_types))
    assert set(config) <= known, set(config) - known  # TrlParser would keep these silently
    parser = TrlParser(dataclass_types)
    # fail_with_unknown_args=True (the default) raises on keys no dataclass declares.
    script, sft, model, _mixture = parser.parse_args_and_config(["--config", str(path)])

    assert sft.eval_strategy == "steps"
    assert sft.trust_remote_code is True
    assert sft.dataset_kwargs == {"skip_prepare_dataset": True}
    assert sft.train_sampling_strategy == "group_by_length"
    assert sft.learning_rate == 5e-5
    assert model.dtype == "bfloat16"
    assert model.attn_implementation == "flash_attention_2"
    assert model.use_peft is True
    assert script.dataset_name == "HuggingFaceH4/llava-instruct-mix-vsft"


def test_quantization_bits_round_trip(tmp_path: Path) -> None:
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, SFTConfig, TrlParser

    spec = {
        SCRIPT_ARGS: {"dataset_name": "d"},
        MODEL_CONFIG: {"model_name_or_path": "m", "quant_target_bits": 8, "peft_type": "lora"},
        SFT_CONFIG: {"use_cpu": True, "bf16": False},
    }
    path = tmp_path / "trl.yaml"
    path.write_text(yaml.safe_dump(normalize(spec).trl_config))
    parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig))
    _s, _t, model, _m = parser.parse_args_and_config(["--config", str(path)])
    assert (model.load_in_8bit, model.load_in_4bit, model.use_peft) == (True, False, True)
