"""trl.yaml keys the trainer refuses, with the fix in the message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.config_check import ConfigError, check_config, config_problems
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
