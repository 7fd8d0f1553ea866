"""trl.yaml keys the trainer refuses, with the fix in the message."""

from __future__ import annotations

import pytest
from sftjob_trainer.config_check import ConfigError, check_config, config_problems
from sftjob_trainer.failure import one_line, process_label

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
