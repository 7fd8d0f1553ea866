"""`sftjob convert`: every recipe key goes to the spec block of its TRL dataclass, a legacy
name to its record's block, `env` to spec.env (never a secret), and nothing else passes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sftjob_cli.catalog import Placed, build_catalog, default_catalog
from sftjob_cli.env import env_list, is_secret, without_reserved
from sftjob_cli.errors import ConvertError
from sftjob_cli.recipe import place, unknown_message
from sftjob_operator.api.extensions import EXTENSION_FIELDS
from sftjob_operator.api.legacy import LEGACY_FIELDS
from sftjob_operator.api.trl_fields import load_trl_fields

CATALOG = default_catalog()


@pytest.mark.parametrize(
    ("key", "block"),
    [
        ("dataset_name", "scriptArgs"),
        ("dataset_train_split", "scriptArgs"),
        ("datasets", "datasetMixture"),
        ("test_split_size", "datasetMixture"),
        ("model_name_or_path", "modelConfig"),
        ("lora_target_modules", "modelConfig"),
        ("learning_rate", "sftConfig"),
        ("max_length", "sftConfig"),
        ("trust_remote_code", "sftConfig"),  # a field of SFTConfig in TRL 1.x
        # extension fields of the spec
        ("chat_template", "sftConfig"),
        ("seed", "sftConfig"),  # TrainingArguments.seed: TRL's field wins over datasetMixture.seed
        # legacy names: the block of their record
        ("torch_dtype", "modelConfig"),
        ("evaluation_strategy", "sftConfig"),
        ("max_seq_length", "sftConfig"),
        ("dataset_mixture", "scriptArgs"),
        ("dataset_mixer", "scriptArgs"),
        ("preprocessing_num_workers", "scriptArgs"),
        ("use_flash_attention_2", "modelConfig"),
    ],
)
def test_placement_block(key: str, block: str) -> None:
    placed = CATALOG.place(key)
    assert placed is not None and placed.block == block


def test_every_trl_field_and_extension_is_placed_in_its_own_block() -> None:
    fields = load_trl_fields()
    for block, kinds in fields.kinds.items():
        for name, kind in kinds.items():
            assert CATALOG.place(name) == Placed(block, kind)
    for rec in EXTENSION_FIELDS:
        if rec.item_of is None and fields.block_of(rec.name) is None:
            placed = CATALOG.place(rec.name)
            assert placed is not None and placed.block == rec.block


def test_legacy_name_in_several_blocks_goes_to_its_first_record() -> None:
    fields = load_trl_fields()
    legacy = [
        SimpleNamespace(
            block="sftConfig", name="old_name", schema={"type": "integer"}, target=None
        ),
        SimpleNamespace(block="modelConfig", name="old_name", schema=None, target=None),
    ]
    catalog = build_catalog(fields, (), legacy)
    assert catalog.place("old_name") == Placed("sftConfig", "int")
    catalog = build_catalog(fields, (), list(reversed(legacy)))
    assert catalog.place("old_name") == Placed("modelConfig", None)


def test_real_legacy_table_order_decides() -> None:
    first: dict[str, str] = {}
    for rec in LEGACY_FIELDS:
        first.setdefault(rec.name, rec.block)
    for name, block in first.items():
        if load_trl_fields().block_of(name) is None:
            assert CATALOG.place(name).block == block  # type: ignore[union-attr]


def test_place_splits_blocks_env_and_launch_in_recipe_order() -> None:
    config = {
        "model_name_or_path": "m",
        "learning_rate": "2e-5",
        "dataset_name": "d",
        "torch_dtype": "bfloat16",
        "env": {"WANDB_PROJECT": "p", "TOKENIZERS_PARALLELISM": False},
        "num_processes": 8,
        "main_process_port": 29501,
        "hub_model_id": None,
    }
    placement = place(config, CATALOG)
    assert placement.blocks == {
        "scriptArgs": {"dataset_name": "d"},
        "datasetMixture": {},
        "modelConfig": {"model_name_or_path": "m", "torch_dtype": "bfloat16"},
        "sftConfig": {"learning_rate": 2e-5},
    }
    assert placement.env == [
        {"name": "WANDB_PROJECT", "value": "p"},
        {"name": "TOKENIZERS_PARALLELISM", "value": "False"},  # str(), as TrlParser sets it
    ]
    assert placement.launch == {"num_processes": 8}
    assert placement.unknown == ()
    notes = "\n".join(placement.notes)
    assert 'learning_rate: "2e-5" (a string in YAML) was read as a number' in notes
    assert "main_process_port (an accelerate launch argument) was ignored" in notes
    assert "spec.sftConfig.hub_model_id: null was left out" in notes


def test_launch_values_written_as_strings_are_read_as_their_flags_are() -> None:
    """TrlParser converts a string with the field's type: `use_cpu: "no"` is false."""
    config = {"use_cpu": "no", "multi_gpu": "false", "num_processes": "8"}
    placement = place(config, CATALOG)
    assert placement.launch == {"use_cpu": False, "multi_gpu": False, "num_processes": 8}
    assert (
        'converted: use_cpu: "no" (a string in YAML) was read as a boolean, as TrlParser does'
        in placement.notes
    )
    with pytest.raises(ConvertError, match=r"use_cpu: expected a boolean .* not 'maybe'"):
        place({"use_cpu": "maybe"}, CATALOG)


def test_unknown_keys_are_all_listed_with_a_hint() -> None:
    placement = place({"learning_rat": 1, "lora_rank": 8, "zzz_qqq": 1, "seed": 1}, CATALOG)
    assert placement.unknown == ("learning_rat", "lora_rank", "zzz_qqq")
    message = unknown_message(placement.unknown, CATALOG)
    assert "learning_rat (did you mean learning_rate?)" in message
    assert "lora_rank (did you mean lora_r?)" in message
    assert "  zzz_qqq\n" in message
    assert "--drop-unknown" in message


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("HF_TOKEN", True),
        ("HUGGING_FACE_HUB_TOKEN", True),
        ("WANDB_API_KEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("AZURE_STORAGE_CONNECTION_STRING", True),  # the operator's list
        ("MY_SERVICE_PASSWORD", True),
        ("OPENAI_API_KEY", True),
        ("hf_token", True),
        ("TOKENIZERS_PARALLELISM", False),
        ("WANDB_PROJECT", False),
        ("HF_HUB_ENABLE_HF_TRANSFER", False),
        ("KEYBOARD", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HF_TOKEN": "hf_x"}, "env HF_TOKEN: .*valueFrom.*secretKeyRef.*hubTokenSecretRef"),
        (
            {"WANDB_API_KEY": "k", "WANDB_PROJECT": "p", "AWS_SESSION_TOKEN": "t"},
            "env WANDB_API_KEY, AWS_SESSION_TOKEN: .*Put it in a Secret.*secretKeyRef",
        ),
        (["A=1"], "env: expected a mapping"),
        ({"1BAD": "x"}, "env: not valid variable names: 1BAD"),
    ],
)
def test_env_refusals(env: Any, message: str) -> None:
    with pytest.raises(ConvertError, match=message):
        env_list(env)


def test_secret_in_a_recipe_env_is_refused_by_place() -> None:
    with pytest.raises(ConvertError, match="HUGGING_FACE_HUB_TOKEN"):
        place({"env": {"HUGGING_FACE_HUB_TOKEN": "hf_x"}}, CATALOG)


def test_env_the_pod_must_not_be_given_is_dropped_with_a_note() -> None:
    env = {"CUDA_VISIBLE_DEVICES": "4,5,6,7", "ACCELERATE_LOG_LEVEL": "info", "MASTER_PORT": "1"}
    placed = place({"env": env}, CATALOG)
    # the GPU choice waits for the job's GPU count; the rendezvous is the operator's always
    assert [e["name"] for e in placed.env] == ["CUDA_VISIBLE_DEVICES", "ACCELERATE_LOG_LEVEL"]
    assert placed.notes == (
        "dropped: env MASTER_PORT=1 was left out: set by the operator (spec.nodes and "
        "spec.gpusPerNode set the topology)",
    )
    kept, notes = without_reserved(placed.env, gpus_per_node=4)
    assert kept == [{"name": "ACCELERATE_LOG_LEVEL", "value": "info"}]
    assert notes == [
        "dropped: env CUDA_VISIBLE_DEVICES=4,5,6,7 was left out: each pod sees only the GPUs "
        "it is given, numbered from 0 (spec.gpusPerNode sets how many)"
    ]
    assert without_reserved(placed.env, gpus_per_node=0) == (placed.env, [])  # a CPU job


def test_a_null_that_means_something_is_kept() -> None:
    """max_length: null is no truncation (the CRD takes it); TRL's default cuts at 1024."""
    placed = place({"max_length": None, "hub_model_id": None}, CATALOG)
    assert placed.blocks["sftConfig"] == {"max_length": None}
    assert placed.notes == (
        "dropped: spec.sftConfig.hub_model_id: null was left out: an SFTJob field cannot be "
        "null, so TRL's default applies",
    )
