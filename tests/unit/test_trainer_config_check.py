"""trl.yaml keys the trainer refuses, with the fix in the message."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.config_check import (
    ConfigError,
    Scalar,
    check_config,
    config_problems,
    scalar_fields,
    value_problem,
)
from sftjob_trainer.failure import not_utf8, one_line, process_label

KNOWN = frozenset({"eval_strategy", "dtype", "max_length", "lora_r", "attn_implementation",
                   "hub_token", "output_dir"})  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("evaluation_strategy", "steps", "eval_strategy"),
        ("torch_dtype", "bfloat16", "dtype"),
        ("max_seq_length", 512, "max_length"),
        ("no_cuda", True, "use_cpu"),
        ("dataset_mixture", {"datasets": []}, "datasetMixture"),
        ("use_flash_attention_2", True, "flash_attention_2"),
        ("lora_rr", 8, "did you mean `lora_r`?"),
        ("zzz_unrelated", 1, "remove it"),
        ("hub_token", "hf_x", "hubTokenSecretRef"),
        ("attn_implementation", "flash", "flash_attention_2"),
        ("attn_implementation", "flash_attention", "flash_attention_2"),
        ("attn_implementation", "xformers", "not supported"),
    ],
)
def test_problem_names_key_and_fix(key: str, value: object, fix: str) -> None:
    [problem] = config_problems({key: value, "output_dir": "/o"}, KNOWN)
    assert f"`{key}" in problem and fix in problem


@dataclasses.dataclass
class Args:
    learning_rate: float = 2e-5
    max_steps: int = -1
    bf16: bool | None = None
    packing: bool = False
    output_dir: str | None = None
    fsdp: str | None = None
    seed: int = 42
    report_to: str | list[str] | None = None  # a union of several types: not checked
    model_init_kwargs: dict[str, Any] | str | None = None


SCALARS = scalar_fields([Args])


def test_scalar_fields_are_read_from_the_annotations() -> None:
    assert {
        "learning_rate": Scalar(float, optional=False, default=2e-5),
        "max_steps": Scalar(int, optional=False, default=-1),
        "bf16": Scalar(bool, optional=True),
        "packing": Scalar(bool, optional=False, default=False),
        "output_dir": Scalar(str, optional=True),
        "fsdp": Scalar(str, optional=True),
        "seed": Scalar(int, optional=False, default=42),
    } == SCALARS


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("learning_rate", [1, 2], "`learning_rate` is `[1, 2]`, a list, but the field takes a number; write a number such as its default, `learning_rate: 2e-05`"),
        ("learning_rate", True, "`learning_rate` is `true`, true or false, but the field takes a number"),
        ("learning_rate", {"a": 1}, "is `{\"a\": 1}`, a mapping,"),
        ("learning_rate", None, "is null, but the field takes a number; write a number such as its default, `learning_rate: 2e-05`, or leave the key out"),
        ("max_steps", 2.5, "`max_steps` is `2.5`, a number, but the field takes an integer"),
        ("seed", False, "the field takes an integer"),
        ("packing", 1, "`packing` is `1`, an integer, but the field takes true or false; write true or false such as its default, `packing: false`"),
        ("output_dir", ["a", "b"], "`output_dir` is `[\"a\", \"b\"]`, a list, but the field takes a string; write a string"),
        ("output_dir", 2024, '`output_dir` is `2024`, an integer, but the field takes a string; quote it (`output_dir: "2024"`)'),
        ("output_dir", datetime.date(2024, 1, 1), "`output_dir` is `\"2024-01-01\"`, a date, but the field takes a string"),
        ("learning_rate", datetime.date(2024, 1, 1), "is `\"2024-01-01\"`, a date, but the field takes a number"),
    ],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_named_with_what_to_write(
    key: str, value: object, message: str
) -> None:
    [problem] = config_problems({key: value}, frozenset(SCALARS), SCALARS)
    assert problem.startswith("trl.yaml: `") and message in problem


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("learning_rate", 1),  # an integer is a number
        ("learning_rate", "fast"),  # a string: argparse converts it or says why not
        ("bf16", None),
        ("bf16", True),
        ("output_dir", None),
        ("output_dir", True),  # resume_from_checkpoint: true is a str field's value too
        ("max_steps", 10),
        ("report_to", ["wandb"]),
        ("fsdp", ["full_shard", "auto_wrap"]),  # transformers splits a list too
        ("model_init_kwargs", {"attn_implementation": "sdpa"}),
    ],
)
def test_a_value_of_the_fields_type_passes(key: str, value: object) -> None:
    assert config_problems({key: value}, frozenset(SCALARS) | {key}, SCALARS) == []


def test_the_pinned_trls_fields_are_checked() -> None:
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, SFTConfig

    scalars = scalar_fields([ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig])
    assert scalars["learning_rate"].kind is float and scalars["max_steps"].kind is int
    assert scalars["resume_from_checkpoint"] == Scalar(str, optional=True)
    assert "report_to" not in scalars and "model_init_kwargs" not in scalars
    assert value_problem("learning_rate", [1, 2], scalars["learning_rate"])
    assert value_problem("resume_from_checkpoint", True, scalars["resume_from_checkpoint"]) is None
    # IntervalStrategy | str: one of a set of words, which YAML's unquoted `no` is not
    assert scalars["eval_strategy"] == Scalar(str, optional=False, default="no", words=True)
    assert value_problem("eval_strategy", "no", scalars["eval_strategy"]) is None
    assert value_problem("eval_strategy", False, scalars["eval_strategy"]) == (
        "trl.yaml: `eval_strategy` is false (YAML reads an unquoted no or off as false, yes or "
        'on as true), but the field takes a word; quote it (`eval_strategy: "no"`)'
    )
    assert 'quote it (`lr_scheduler_type: "linear"`)' in str(
        value_problem("lr_scheduler_type", True, scalars["lr_scheduler_type"])
    )


def test_clean_config_and_env_block_pass() -> None:
    assert (
        config_problems({"output_dir": "/o", "dtype": "bfloat16", "env": {"A": "1"}}, KNOWN) == []
    )
    check_config({"attn_implementation": "sdpa"}, KNOWN)


def test_all_problems_in_one_line() -> None:
    with pytest.raises(ConfigError) as err:
        check_config({"torch_dtype": "x", "max_seq_length": 1}, KNOWN)
    assert "\n" not in str(err.value)
    assert "torch_dtype" in str(err.value) and "max_seq_length" in str(err.value)


@pytest.mark.parametrize("config", [None, ["a"], "text"])
def test_non_mapping_is_refused(config: object) -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        check_config(config, KNOWN)


def test_one_line_reason() -> None:
    reason = one_line(RuntimeError("first line\n  second\tline"))
    assert reason == "RuntimeError: first line second line"
    assert len(one_line(ValueError("x" * 5000))) == 1024


@pytest.mark.parametrize(
    ("env", "label"),
    [
        ({}, ""),
        ({"WORLD_SIZE": "1", "RANK": "0"}, ""),
        ({"WORLD_SIZE": "4", "RANK": "3", "GROUP_RANK": "1", "JOB_COMPLETION_INDEX": "9"},
         "rank 3 (node 1): "),
        ({"WORLD_SIZE": "2", "RANK": "1", "JOB_COMPLETION_INDEX": "1"}, "rank 1 (node 1): "),
    ],
)  # fmt: skip
def test_process_label(env: dict[str, str], label: str) -> None:
    assert process_label(env) == label


@pytest.mark.parametrize("key", [1, 2.5, None, True])
def test_a_key_that_is_not_a_name_is_refused(key: object) -> None:
    config: dict[Any, Any] = {key: "x", "output_dir": "/o"}
    [problem] = config_problems(config, KNOWN)
    assert problem.startswith(f"trl.yaml: key {key!r} is not a name")


def test_not_utf8_names_the_byte_and_the_fix() -> None:
    with pytest.raises(UnicodeDecodeError) as err:
        b"ok\xff".decode("utf-8")
    assert not_utf8(err.value) == "not UTF-8 text (byte 0xff at offset 2); save the file as UTF-8"


def test_a_config_file_that_is_not_utf8_or_has_a_bad_value_is_a_config_error(
    tmp_path: Path,
) -> None:
    from sftjob_trainer.train import load_config, parse

    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00model_name_or_path: m\n")
    with pytest.raises(ConfigError, match=r"binary.yaml: not UTF-8 text \(byte 0xff at offset 0\)"):
        load_config(binary)
    typed = tmp_path / "trl.yaml"
    typed.write_text("model_name_or_path: m\ndataset_name: d\nlearning_rate: fast\n")
    with pytest.raises(ConfigError) as err:
        parse(str(typed), [])
    assert str(err.value) == (
        "trl.yaml: `learning_rate`: invalid float value: 'fast'; write a value of the field's type"
    )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("lr_scheduler_type: cosine_garbage", "cosine_garbage is not a valid SchedulerType"),
        ("optim: adamw_garbage", "adamw_garbage is not a valid OptimizerNames"),
        (
            "load_best_model_at_end: true\neval_strategy: steps\nsave_strategy: 'no'",
            "--load_best_model_at_end requires the save and eval strategy to match",
        ),
        ("logging_steps: 0", "requires non-zero --logging_steps"),
    ],
)
def test_what_the_dataclasses_refuse_as_they_are_built_is_a_config_error(
    tmp_path: Path, lines: str, message: str
) -> None:
    from sftjob_trainer.train import parse

    config = tmp_path / "trl.yaml"
    config.write_text(f"model_name_or_path: m\ndataset_name: d\nuse_cpu: true\n{lines}\n")
    with pytest.raises(ConfigError) as err:
        parse(str(config), [])
    assert str(err.value).startswith("trl.yaml: ValueError: ") and message in str(err.value)


def test_a_check_of_the_machine_stays_a_fault(tmp_path: Path) -> None:
    """bf16 on a GPU that does not answer: a restart, perhaps elsewhere, may pass it."""
    from sftjob_trainer.train import about_the_node

    assert about_the_node(ValueError("Your setup doesn't support bf16/gpu."))
    assert not about_the_node(ValueError("cosine_garbage is not a valid SchedulerType"))
