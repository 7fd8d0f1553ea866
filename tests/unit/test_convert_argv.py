"""`sftjob convert`: `trl sft` command lines parsed as TRL's TrlParser parses them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sftjob_cli.catalog import default_catalog
from sftjob_cli.errors import ConvertError
from sftjob_cli.sources import recipe_from_argv, recipe_from_file
from sftjob_cli.trl_argv import parse_args, parse_command, parse_script

KIND_OF = default_catalog().kind_of


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--learning_rate", "2e-5"], {"learning_rate": 2e-5}),
        (["--learning_rate=2e-5"], {"learning_rate": 2e-5}),
        (["--lora_r", "16", "--lora_alpha=32"], {"lora_r": 16, "lora_alpha": 32}),
        (["--packing"], {"packing": True}),
        (["--packing", "--bf16"], {"packing": True, "bf16": True}),
        (["--packing", "false"], {"packing": False}),
        (["--packing=no"], {"packing": False}),
        (["--no_packing"], {"packing": False}),
        (["--no-gradient-checkpointing"], {"gradient_checkpointing": False}),
        (["--model-name-or-path", "Qwen/Qwen2-0.5B"], {"model_name_or_path": "Qwen/Qwen2-0.5B"}),
        (
            ["--lora_target_modules", "q_proj", "v_proj", "--use_peft"],
            {"lora_target_modules": ["q_proj", "v_proj"], "use_peft": True},
        ),
        (["--lora_target_modules", "all-linear"], {"lora_target_modules": ["all-linear"]}),
        (["--report_to", "wandb"], {"report_to": "wandb"}),
        (["--max_steps", "-1"], {"max_steps": -1}),
        (["--dataset_text_field", ""], {"dataset_text_field": ""}),
        (
            ["--gradient_checkpointing_kwargs", '{"use_reentrant": false}'],
            {"gradient_checkpointing_kwargs": {"use_reentrant": False}},
        ),
        (["--deepspeed", "ds_zero3.json"], {"deepspeed": "ds_zero3.json"}),
        (["--fsdp", "full_shard auto_wrap"], {"fsdp": "full_shard auto_wrap"}),
        # legacy names take the kind of what they translate to, or their own schema
        (["--torch_dtype", "bfloat16"], {"torch_dtype": "bfloat16"}),
        (["--max_seq_length", "2048"], {"max_seq_length": 2048}),
        (["--use_flash_attention_2"], {"use_flash_attention_2": True}),
        # accelerate launch arguments that `trl sft` passes on
        (
            ["--num_processes", "8", "--accelerate_config", "zero3"],
            {"num_processes": 8, "accelerate_config": "zero3"},
        ),
        # a repeated flag: the last one wins, as in argparse
        (["--seed", "1", "--seed", "2"], {"seed": 2}),
    ],
)
def test_parse_args(args: list[str], expected: dict[str, Any]) -> None:
    parsed = parse_args(args, KIND_OF)
    assert parsed.overrides == expected
    assert parsed.config is None


def test_config_is_the_file_and_not_an_override() -> None:
    parsed = parse_args(["--config", "sft.yaml", "--seed", "3"], KIND_OF)
    assert parsed.config == "sft.yaml"
    assert parsed.overrides == {"seed": 3}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["positional"], "unexpected argument 'positional'"),
        (["--config"], "--config: expected one file name"),
        (["--lora_r", "16", "32"], "--lora_r: expected one value, got 2: 16 32"),
        (["--lora_r", "sixteen"], "--lora_r: expected an integer, not 'sixteen'"),
        (["--no_packing", "true"], "--no_packing takes no value"),
        (["--packing", "maybe"], "--packing: expected a boolean"),
        # report_to is `str | list[str]`: TRL's parser takes one value, not a list
        (["--report_to", "wandb", "tensorboard"], "--report_to: expected one value, got 2"),
    ],
)
def test_parse_args_refuses(args: list[str], message: str) -> None:
    with pytest.raises(ConvertError, match=message):
        parse_args(args, KIND_OF)


def test_env_assignments_before_the_command() -> None:
    parsed = parse_command(
        ["ACCELERATE_LOG_LEVEL=info", "WANDB_PROJECT=p", "trl", "sft", "--seed", "1"], KIND_OF
    )
    assert parsed.env == {"ACCELERATE_LOG_LEVEL": "info", "WANDB_PROJECT": "p"}
    assert parsed.overrides == {"seed": 1}


@pytest.mark.parametrize(
    ("tokens", "overrides"),
    [
        (["python", "trl/scripts/sft.py", "--seed", "1"], {"seed": 1}),
        (["uv", "run", "examples/scripts/sft.py", "--seed", "1"], {"seed": 1}),
        (
            [
                "accelerate",
                "launch",
                "--config_file",
                "zero3.yaml",
                "trl/scripts/sft.py",
                "--seed",
                "1",
            ],
            {"config_file": "zero3.yaml", "seed": 1},
        ),
    ],
)
def test_trls_own_script_as_its_docs_run_it(tokens: list[str], overrides: dict[str, Any]) -> None:
    assert parse_command(tokens, KIND_OF).overrides == overrides


@pytest.mark.parametrize(
    "tokens",
    [
        ["accelerate", "launch", "train.py"],
        ["torchrun", "sft.py"],
        ["trl", "dpo", "--beta", "0.1"],
        [],
    ],
)
def test_only_trl_sft_commands(tokens: list[str]) -> None:
    with pytest.raises(ConvertError, match=re.escape("expected a `trl sft ...` command line")):
        parse_command(tokens, KIND_OF)


def test_script_with_continuations_comments_and_exports() -> None:
    script = (
        "#!/bin/bash\n"
        "# a comment\n"
        "export WANDB_PROJECT=demo HF_HUB_ENABLE_HF_TRANSFER=1\n"
        "\n"
        "ACCELERATE_LOG_LEVEL=info trl sft \\\n"
        "    --model_name_or_path Qwen/Qwen2.5-0.5B \\\n"
        "    --eos_token '<|im_end|>' \\\n"
        "    --lora_target_modules q_proj v_proj  # the attention projections\n"
    )
    parsed = parse_script(script, KIND_OF)
    assert parsed.env == {
        "WANDB_PROJECT": "demo",
        "HF_HUB_ENABLE_HF_TRANSFER": "1",
        "ACCELERATE_LOG_LEVEL": "info",
    }
    assert parsed.overrides == {
        "model_name_or_path": "Qwen/Qwen2.5-0.5B",
        "eos_token": "<|im_end|>",
        "lora_target_modules": ["q_proj", "v_proj"],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-lr", "3"], "unexpected argument '-lr': `trl sft` takes only --flags"),
        (["--lora_target_modules", "q_proj", "-x", "v_proj"], "unexpected argument '-x'"),
    ],
)
def test_a_single_dash_token_ends_a_flags_values_as_in_argparse(
    args: list[str], message: str
) -> None:
    with pytest.raises(ConvertError, match=message):
        parse_args(args, KIND_OF)


def test_a_value_with_a_space_may_start_with_a_dash_as_in_argparse() -> None:
    overrides = parse_args(["--chat_template", "- {{ x }}", "--seed", "1"], KIND_OF).overrides
    assert overrides == {"chat_template": "- {{ x }}", "seed": 1}


@pytest.mark.parametrize("number", ["-3", "-0.5", "-.5", "-1e-5"])
def test_a_negative_number_is_a_value(number: str) -> None:
    overrides = parse_args(["--learning_rate", number, "--seed", "1"], KIND_OF).overrides
    assert overrides == {"learning_rate": float(number), "seed": 1}


def test_a_script_expands_the_variables_it_exports_as_the_shell_would() -> None:
    script = (
        "export MODEL=Qwen/Qwen2.5-0.5B\n"
        "export OUT=${MODEL}-sft\n"
        'trl sft --model_name_or_path $MODEL --output_dir "$OUT"\n'
    )
    parsed = parse_script(script, KIND_OF)
    assert parsed.overrides == {
        "model_name_or_path": "Qwen/Qwen2.5-0.5B",
        "output_dir": "Qwen/Qwen2.5-0.5B-sft",
    }
    assert parsed.env == {"MODEL": "Qwen/Qwen2.5-0.5B", "OUT": "Qwen/Qwen2.5-0.5B-sft"}


@pytest.mark.parametrize("reference", ["$HOME", "${HOME}", "$1", '"$HOME"'])
def test_a_variable_the_script_does_not_export_is_refused(reference: str) -> None:
    name = reference.strip('"${}')
    line = f"trl sft --output_dir {reference}/out"
    with pytest.raises(ConvertError) as caught:
        parse_script(line + "\n", KIND_OF)
    fix = "" if name == "1" else f", or `export {name}=...` on a line before the command"
    assert str(caught.value) == (
        f"{line!r}: ${name} comes from the shell that runs the file, which sftjob convert "
        f"does not run: write the value{fix}"
    )


def test_an_export_of_the_callers_variable_is_refused_with_its_own_fix() -> None:
    with pytest.raises(
        ConvertError, match=r"\$PYTHONPATH comes from the shell .* remove the export"
    ):
        parse_script("export PYTHONPATH=$PYTHONPATH:.\ntrl sft --seed 1\n", KIND_OF)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("'$price'", "$price"),  # single quotes: no expansion
        ("\\$price", "$price"),  # an escaped dollar
        ("${UNSET:-Qwen/Qwen2-0.5B}", "Qwen/Qwen2-0.5B"),  # a default
        ('"$MODEL-sft"', "my model-sft"),  # in double quotes: one word, spaces kept
        ("$MODEL", "my model"),  # unquoted: kept one word here
        ("a$", "a$"),  # a dollar that names nothing
    ],
)
def test_variables_expand_where_the_shell_would(written: str, value: str) -> None:
    script = f"export MODEL='my model'\ntrl sft --hub_model_id {written}  # not $EXPANDED\n"
    assert parse_script(script, KIND_OF).overrides == {"hub_model_id": value}


def test_command_substitution_is_refused() -> None:
    with pytest.raises(ConvertError, match=r"command substitution \$\(\.\.\.\) cannot be run"):
        parse_script("trl sft --output_dir $(date +%s)\n", KIND_OF)


@pytest.mark.parametrize(
    ("script", "found"),
    [("# nothing\n", 0), ("trl sft --seed 1\ntrl sft --seed 2\n", 2)],
)
def test_script_holds_exactly_one_command(script: str, found: int) -> None:
    with pytest.raises(
        ConvertError, match=f"expected one `trl sft ...` command line, found {found}"
    ):
        parse_script(script, KIND_OF)


def test_command_line_overrides_the_config_file(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "sft.yaml").write_text(
        "model_name_or_path: Qwen/Qwen2-0.5B\n"
        "learning_rate: 2.0e-5\n"
        "packing: true\n"
        "lora_target_modules: [q_proj]\n"
        "env: {WANDB_PROJECT: from-config, A: '1'}\n"
    )
    monkeypatch.chdir(tmp_path)
    recipe = recipe_from_argv(
        [
            "WANDB_PROJECT=from-command", "trl", "sft", "--config", "sft.yaml",
            "--learning_rate", "1e-5", "--no_packing", "--lora_target_modules", "q_proj", "k_proj",
            "--seed", "7",
        ],
        KIND_OF,
    )  # fmt: skip
    assert recipe.config == {
        "model_name_or_path": "Qwen/Qwen2-0.5B",
        "learning_rate": 1e-5,
        "packing": False,
        "lora_target_modules": ["q_proj", "k_proj"],
        "env": {"WANDB_PROJECT": "from-command", "A": "1"},
        "seed": 7,
    }
    assert recipe.source == "sft.yaml"  # the job is named after the config file


def test_command_file_finds_its_config_beside_it(tmp_path: Path, monkeypatch: Any) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "base.yaml").write_text("model_name_or_path: m\nseed: 1\n")
    (recipes / "run.sh").write_text("trl sft --config base.yaml --seed 2\n")
    monkeypatch.chdir(tmp_path)  # base.yaml is not in the working directory
    recipe = recipe_from_file("recipes/run.sh", KIND_OF)
    assert recipe.config == {"model_name_or_path": "m", "seed": 2}
    assert recipe.source == "recipes/run.sh"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such file"),
        ("a: [1,\n", "not valid YAML: .*line"),
        ("- a\n- b\n", "expected a YAML mapping of TRL fields, got a list"),
        ("", "expected a YAML mapping of TRL fields, got an empty file"),
        ("apiVersion: sftjob.dev/v1alpha1\nkind: SFTJob\n", "already a Kubernetes manifest"),
    ],
)
def test_bad_recipe_files(tmp_path: Path, text: str | None, message: str) -> None:
    path = tmp_path / "recipe.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConvertError, match=message) as err:
        recipe_from_file(str(path), KIND_OF)
    assert "\n" not in str(err.value)


def test_shell_variables_expand_and_only_exports_reach_the_pod() -> None:
    script = (
        "#!/bin/bash\nset -euo pipefail\nMODEL=Qwen/Qwen2.5-0.5B GPUS=4\n"
        "export WANDB_PROJECT=sft\nOUT=out\nexport OUT\n"
        "trl sft --model_name_or_path $MODEL --output_dir ./$OUT --num_processes ${GPUS}\n"
    )
    command = parse_script(script, KIND_OF)
    assert command.overrides == {
        "model_name_or_path": "Qwen/Qwen2.5-0.5B",
        "output_dir": "./out",
        "num_processes": 4,
    }
    assert command.env == {"WANDB_PROJECT": "sft", "OUT": "out"}


def test_an_export_of_a_variable_the_file_does_not_set_is_refused() -> None:
    with pytest.raises(ConvertError, match=r"export RUN: the file gives RUN no value"):
        parse_script("export RUN\ntrl sft --seed 1\n", KIND_OF)


@pytest.mark.parametrize("form", ["${MODEL##*/}", "${MODEL%/*}", "${MODEL/a/b}", "${RUN-x}"])
def test_a_variable_form_convert_cannot_expand_is_refused(form: str) -> None:
    script = f"export MODEL=a/b\ntrl sft --output_dir {form}\n"
    with pytest.raises(ConvertError, match=rf"{re.escape(form)} is not expanded.*write the value"):
        parse_script(script, KIND_OF)


def test_a_line_that_is_no_command_is_named() -> None:
    with pytest.raises(ConvertError, match=r"the line 'echo hi': expected a `trl sft"):
        parse_script("echo hi\ntrl sft --seed 1\n", KIND_OF)


@pytest.mark.parametrize(
    ("line", "dropped"),
    [
        ("trl sft --seed 1 2>&1 | tee train.log", "2>&1 | tee train.log"),
        ("trl sft --seed 1 > train.log", "> train.log"),
        ("trl sft --seed 1 && echo done", "&& echo done"),
        ("trl sft --seed 1 >>train.log", ">>train.log"),
        ("trl sft --seed 1; echo done", "; echo done"),
    ],
)
def test_what_follows_a_pipe_or_redirection_is_the_shells(line: str, dropped: str) -> None:
    command = parse_script(line + "\n", KIND_OF)
    assert command.overrides == {"seed": 1}
    assert command.notes == (
        f"dropped: `{dropped}` after the command: the shell's, not the job's (each pod's log is "
        "kept by Kubernetes: sftjob logs)",
    )


def test_a_template_with_a_comparison_is_no_redirection() -> None:
    command = parse_script("trl sft --chat_template '{% if n > 1 %}x{% endif %}'\n", KIND_OF)
    assert (
        command.overrides == {"chat_template": "{% if n > 1 %}x{% endif %}"} and not command.notes
    )
