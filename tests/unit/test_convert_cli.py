"""`sftjob convert` end to end through click: every recipe in tests/data/recipes converts,
outdated names are reported on stderr, and bad input exits 2 with one message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from sftjob_cli.catalog import default_catalog
from sftjob_cli.main import main
from sftjob_cli.sources import recipe_from_file
from sftjob_operator.api.legacy import LEGACY_FIELDS
from sftjob_operator.api.normalize import translate_spec

ROOT = Path(__file__).resolve().parents[2]
RECIPE_DIR = ROOT / "tests" / "data" / "recipes"
RECIPES = sorted(p for p in RECIPE_DIR.iterdir() if p.is_file())
LEGACY = {rec.name: rec for rec in reversed(LEGACY_FIELDS)}  # the first record wins
CLUSTER_KEYS = (
    "nodes",
    "gpusPerNode",
    "distributed",
    "image",
    "storage",
    "hubTokenSecretRef",
    "env",
)
BLOCKS = ("scriptArgs", "datasetMixture", "modelConfig", "sftConfig")


def convert(*args: str) -> Result:
    return CliRunner().invoke(main, ["convert", *args])


def recipe_config(path: Path) -> dict[str, Any]:
    return recipe_from_file(str(path), default_catalog().kind_of).config


def test_recipe_corpus() -> None:
    assert len(RECIPES) >= 10
    assert {p.suffix for p in RECIPES} >= {".yaml", ".sh", ".txt"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_recipe_converts(path: Path) -> None:
    result = convert(str(path))
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    assert list(manifest) == ["apiVersion", "kind", "metadata", "spec"]
    assert (manifest["apiVersion"], manifest["kind"]) == ("sftjob.dev/v1alpha1", "SFTJob")
    spec = manifest["spec"]
    order = [k for k in (*CLUSTER_KEYS, *BLOCKS) if k in spec]
    assert list(spec) == order, "cluster fields first, then the four blocks in order"
    assert spec["storage"]["size"] == "50Gi"
    # the output uses current names only: nothing is left for the operator to translate
    assert translate_spec(spec).translations == ()


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_translation_is_reported(path: Path) -> None:
    result = convert(str(path))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    for key in recipe_config(path):
        rec = LEGACY.get(key)
        if rec is None or default_catalog().trl.block_of(key) is not None:
            continue
        reported = [line for line in lines if f"spec.{rec.block}.{key}" in line]
        assert reported, f"{key} is translated without a word:\n{result.stderr}"
        assert all(
            line.split(": ", 1)[0]
            in {"renamed", "moved", "value-translated", "restructured", "dropped"}
            for line in reported
        )
    if "chat_template" in recipe_config(path):
        assert any(line.startswith("moved: spec.sftConfig.chat_template") for line in lines)


EXPECTED: dict[str, dict[str, Any]] = {
    "trl-sft-qwen-lora.sh": {
        "metadata": {"name": "trl-sft-qwen-lora"},
        "cluster": {"nodes": 1, "gpusPerNode": 4, "distributed": "deepspeed-zero2"},
        "env": [{"name": "ACCELERATE_LOG_LEVEL", "value": "info"}],
        "modelConfig": {
            "lora_target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
            "lora_r": 32,
        },
        "sftConfig": {
            "packing": True,
            "gradient_checkpointing": True,
            "report_to": "wandb",
            "learning_rate": 2e-4,
        },
    },
    "trl-sft-config-overrides.txt": {
        "metadata": {"name": "trl-sft-config-overrides"},
        "cluster": {"nodes": 1, "gpusPerNode": 8},
        "sftConfig": {
            "learning_rate": 1e-5,
            "packing": False,
            "bf16": True,
            "max_length": 2048,
            "model_init_kwargs": {"dtype": "bfloat16"},
            "output_dir": "Qwen2-0.5B-SFT-lr1e-5",
            "gradient_checkpointing": False,
        },
    },
    "fsdp-multi-node-accelerate-file.sh": {
        "cluster": {"nodes": 2, "gpusPerNode": 8, "distributed": "fsdp"},
        "env": [{"name": "WANDB_PROJECT", "value": "llama-70b-sft"}],
        "sftConfig": {
            "report_to": "wandb",
            "run_name": "llama-70b-no-robots-2x8",
            "max_length": 3072,
            # The accelerate file's FSDP1 settings, under the recipe's own (which win:
            # backward_prefetch, use_orig_params; its `offload` word over cpu_offload).
            "fsdp_config": {
                "version": 1,
                "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                "backward_prefetch": "backward_pre",
                "cpu_ram_efficient_loading": True,
                "state_dict_type": "SHARDED_STATE_DICT",
                "sync_module_states": True,
                "use_orig_params": False,
                "forward_prefetch": False,
                "activation_checkpointing": True,
                "transformer_layer_cls_to_wrap": ["LlamaDecoderLayer"],
            },
        },
    },
    "handbook-smollm2-sft-2025.yaml": {
        "datasetMixture": {
            "datasets": [
                {"path": "HuggingFaceTB/smoltalk", "name": "all", "split": "train", "weight": 1.0},
                {"path": "HuggingFaceTB/smoltalk", "name": "all", "split": "test", "test": True},
            ]
        },
        "sftConfig": {"chat_template_path": "HuggingFaceTB/SmolLM2-1.7B-Instruct"},
    },
    "deepspeed-zero3-llama-3.1-8b.yaml": {
        "cluster": {"nodes": 2, "gpusPerNode": 8, "distributed": "deepspeed-zero3"},
    },
    "handbook-smollm3-sft-mixture.yaml": {
        "metadata": {"name": "handbook-smollm3-sft-mixture"},
        "cluster": {
            "nodes": 1,
            "gpusPerNode": 1,
            "hubTokenSecretRef": {"name": "hf-token", "key": "token"},
        },
        "modelConfig": {"dtype": "bfloat16"},
        "sftConfig": {"warmup_steps": 0.05},
    },
    "trl-docs-sft-config.yaml": {"sftConfig": {"learning_rate": 2e-5}},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_values(name: str) -> None:
    result = convert(str(RECIPE_DIR / name))
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    spec = manifest["spec"]
    expected = EXPECTED[name]
    for key, value in expected.get("metadata", {}).items():
        assert manifest["metadata"][key] == value
    for key, value in expected.get("cluster", {}).items():
        assert spec[key] == value, key
    if "env" in expected:
        assert spec["env"] == expected["env"]
    for block in BLOCKS:
        for key, value in expected.get(block, {}).items():
            assert spec[block][key] == value, f"{block}.{key}"
            assert type(spec[block][key]) is type(value), f"{block}.{key}"


def test_chat_template_is_a_block_scalar_and_exact() -> None:
    path = RECIPE_DIR / "handbook-smollm3-sft-mixture.yaml"
    result = convert(str(path))
    assert "    chat_template: |-\n" in result.stdout
    template = yaml.safe_load(path.read_text())["chat_template"]
    assert yaml.safe_load(result.stdout)["spec"]["sftConfig"]["chat_template"] == template
    assert len(template) > 2000


def test_trl_command_after_double_dash(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(RECIPE_DIR)
    result = convert(
        "--nodes", "2", "--gpus-per-node", "4", "--distributed", "ddp", "--name", "my-run",
        "--image", "registry.example.com/trainer:1", "--storage-size", "100Gi",
        "--", "trl", "sft", "--config", "trl-docs-sft-config.yaml", "--learning_rate", "1e-5",
        "--lora_target_modules", "q_proj", "v_proj", "--use_peft",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(result.stdout)
    spec = manifest["spec"]
    assert manifest["metadata"] == {"name": "my-run"}
    assert (spec["nodes"], spec["gpusPerNode"], spec["distributed"]) == (2, 4, "ddp")
    assert spec["image"] == "registry.example.com/trainer:1"
    assert spec["storage"] == {"size": "100Gi"}
    assert spec["sftConfig"]["learning_rate"] == 1e-5
    assert spec["modelConfig"]["lora_target_modules"] == ["q_proj", "v_proj"]
    assert spec["modelConfig"]["use_peft"] is True


def test_whole_command_in_one_argument() -> None:
    result = convert("trl sft --model_name_or_path Qwen/Qwen2-0.5B --dataset_name d --packing")
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert spec["sftConfig"] == {"packing": True}
    assert yaml.safe_load(result.stdout)["metadata"]["name"] == "qwen2-0-5b-sft"


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BASE = "model_name_or_path: m\ndataset_name: d\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no such file"),
        ("model_name_or_path: [unclosed\n", "not valid YAML"),
        # TRL's yaml.safe_load would keep the last one silently
        (
            BASE + "learning_rate: 1.0e-5\nlearning_rate: 2.0e-5\n",
            r"the key 'learning_rate' is written twice in one mapping \(first on line 3\); keep one \(line 4",
        ),
        (BASE + "env: " + "[" * 600 + "]" * 600 + "\n", "nested too deeply to be read"),
        (
            BASE
            + "model_init_kwargs:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"  {n}: &{n} [{', '.join(['*' + p] * 10)}]\n"
                for p, n in zip("abcdefgh", "bcdefghi", strict=True)
            ),
            "expands to over 1,000,000 values through YAML aliases",
        ),
        ("- a list\n", "expected a YAML mapping"),
        (BASE + "env:\n  HF_TOKEN: hf_abc\n", "env HF_TOKEN: .*secretKeyRef"),
        (BASE + "env:\n  WANDB_API_KEY: abc\n", "env WANDB_API_KEY: .*Put it in a Secret"),
        # the operator's own checks (SpecError): refused with its message
        (BASE + "output_dir: /tmp/out\n", "spec.sftConfig.output_dir: .*outside the job's storage"),
        (
            BASE + "fsdp: full_shard\ndeepspeed: {zero_optimization: {stage: 2}}\n",
            "spec.distributed|spec.sftConfig.fsdp",
        ),
        (BASE + "quant_target_bits: 3\n", "spec.modelConfig.quant_target_bits: 3 is not supported"),
        (
            BASE + "num_processes: 3\nnum_machines: 2\n",
            "num_processes 3 .* not a multiple of num_machines 2",
        ),
        (BASE + "learning_rate: fast\n", "learning_rate: expected a number"),
        # What placing accepts but the apiserver would refuse: the offline check of validate.
        (BASE + "max_steps: 1.5\n", r"would be refused: spec\.sftConfig\.max_steps: .* integer"),
        (BASE + "learning_rate: [1, 2]\n", r"would be refused: spec\.sftConfig\.learning_rate"),
        (BASE + "per_device_train_batch_size: 0\n", "per_device_train_batch_size: Invalid value"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = write(tmp_path, text) if text is not None else str(tmp_path / "missing.yaml")
    result = convert(path)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit)  # click's exit, not a crash
    assert re.search(message, result.stderr), result.stderr


def test_unknown_keys_exit_2_listing_each(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "learning_rat: 1e-4\nmy_custom_flag: true\nlora_rnk: 8\n")
    result = convert(path)
    assert result.exit_code == 2
    assert "learning_rat (did you mean learning_rate?)" in result.stderr
    assert "lora_rnk (did you mean lora_r?)" in result.stderr
    assert "my_custom_flag" in result.stderr
    assert "--drop-unknown" in result.stderr


def test_drop_unknown_lists_each_dropped_key(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "learning_rat: 1e-4\nmy_custom_flag: true\nseed: 3\n")
    result = convert("--drop-unknown", path)
    assert result.exit_code == 0, result.output
    assert (
        "dropped: learning_rat is not a TRL field (--drop-unknown) (did you mean learning_rate?)"
        in result.stderr
    )
    assert "dropped: my_custom_flag is not a TRL field (--drop-unknown)" in result.stderr
    spec = yaml.safe_load(result.stdout)["spec"]
    assert spec["sftConfig"] == {"seed": 3}


def test_trl_command_errors_exit_2(tmp_path: Path) -> None:
    result = convert("--", "trl", "sft", "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    result = convert("--", "trl", "dpo", "--beta", "0.1")
    assert result.exit_code == 2
    assert "expected a `trl sft ...` command line" in result.stderr


def test_bad_options_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    assert convert("--name", "Not_A_Name", path).exit_code == 2
    assert convert("--distributed", "horovod", path).exit_code == 2
    assert convert("--nodes", "0", path).exit_code == 2


def test_help_names_both_forms() -> None:
    result = CliRunner().invoke(main, ["convert", "--help"])
    assert result.exit_code == 0
    assert "trl sft" in result.output and "--drop-unknown" in result.output


def test_every_option_is_a_field_of_options() -> None:
    import dataclasses

    import click
    from sftjob_cli.cluster import Options
    from sftjob_cli.convert import convert as command

    names = {p.name for p in command.params if isinstance(p, click.Option) and p.name != "help"}
    assert names == {f.name for f in dataclasses.fields(Options)}


@pytest.mark.parametrize(
    "line",
    [
        "accelerate launch trl/scripts/sft.py --model_name_or_path m --dataset_name d",
        "accelerate launch --num_processes 2 trl/scripts/sft.py --model_name_or_path m "
        "--dataset_name d",
        "python trl/scripts/sft.py --model_name_or_path m --dataset_name d",
        "WANDB_PROJECT=x trl sft --model_name_or_path m --dataset_name d",
        "trl sft \\\n  --model_name_or_path m \\\n  --dataset_name d",  # pasted with continuations
    ],
)
def test_any_command_line_convert_reads_in_one_argument(line: str) -> None:
    result = convert(line)
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert spec["modelConfig"]["model_name_or_path"] == "m"
    if line.startswith("WANDB_PROJECT"):
        assert {"name": "WANDB_PROJECT", "value": "x"} in spec["env"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["trl sft --model_name_or_path 'foo"],
            "cannot split the command line: No closing quotation; check its quotes",
        ),
        (
            ["torchrun --nproc_per_node 8 train.py --model_name_or_path m"],
            r"names no file, and is not a command line convert reads: expected a `trl sft "
            r"\.\.\.` command line .*sftjob convert -- <command line>",
        ),
        ([""], "the recipe argument is empty: name a recipe file"),
        (["  "], "the recipe argument is empty"),
        (["."], r"^Error: \.: is a directory; name a recipe file"),
    ],
)
def test_a_single_argument_that_is_no_file_nor_a_command_line(
    args: list[str], message: str
) -> None:
    result = convert(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit)
    assert re.search(message, result.stderr), result.stderr


def test_an_existing_file_whose_name_has_a_space_is_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE, name="my recipe.yaml")
    result = convert(path)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "trl", "sft"], r"the recipe names no model: add --model_name_or_path"),
        (
            ["--", "trl", "sft", "--model_name_or_path", "m"],
            r"the recipe names no dataset: add --dataset_name",
        ),
        (
            ["--storage-size", "lots", "--", "trl", "sft", "--model_name_or_path", "m",
             "--dataset_name", "d"],
            r"would be refused: spec\.storage\.size: Invalid value: \"lots\"",
        ),
        (
            ["--hub-token-secret", "BAD SECRET", "--", "trl", "sft", "--model_name_or_path",
             "m", "--dataset_name", "d", "--push_to_hub"],
            r"spec\.hubTokenSecretRef\.name: Invalid value: \"BAD SECRET\"",
        ),
    ],
)  # fmt: skip
def test_what_the_apiserver_would_refuse_exits_2_printing_nothing(
    args: list[str], message: str
) -> None:
    result = convert(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert re.search(message, result.stderr), result.stderr
    assert "<nil>" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        ("--seed", "-99999999999999999999999", 'spec.sftConfig.seed: Invalid value: "number"'),
        ("--max_steps", "9223372036854775808", "spec.sftConfig.max_steps: Invalid value"),
        ("--learning_rate", "inf", "spec.sftConfig.learning_rate: inf cannot be sent"),
        ("--learning_rate", "nan", "spec.sftConfig.learning_rate: nan cannot be sent"),
    ],
)
def test_convert_checks_the_manifest_as_kubectl_reads_what_it_prints(
    flag: str, value: str, said: str
) -> None:
    result = convert("--", "trl", "sft", "--model_name_or_path", "m/x", "--dataset_name", "d",
                     flag, value)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert said in result.output and result.stdout == ""


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("--name=", "--name '': expected lower-case letters"),
        ("--storage-size=", 'spec.storage.size: Invalid value: ""'),
        ("--image=", 'spec.image: Invalid value: ""'),
        ("--storage-size=0", "spec.storage.size: 0 is not above zero"),
        ("--name=" + "a" * 60, "use an SFTJob name of at most 58 characters"),
    ],
)
def test_an_option_given_empty_or_out_of_range_is_refused_not_ignored(
    option: str, said: str
) -> None:
    result = convert(
        option, "--", "trl", "sft", "--model_name_or_path", "m/x", "--dataset_name", "d"
    )
    assert result.exit_code == 2, result.output
    assert said in result.output


def test_a_long_name_the_operator_takes_is_kept() -> None:
    result = convert("--name=" + "a" * 50, "--", "trl", "sft", "--model_name_or_path", "m/x",
                     "--dataset_name", "d")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["metadata"]["name"] == "a" * 50


def test_files_of_this_machine_the_recipe_names_are_carried_inline(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """TRL takes --deepspeed, --fsdp_config and --chat_template_path as files; the pods do
    not have this machine's files, so their content goes into the spec."""
    (tmp_path / "ds.json").write_text(
        '{"zero_optimization": {"stage": 2}, "train_batch_size": "auto"}'
    )
    (tmp_path / "tpl.jinja").write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    monkeypatch.chdir(tmp_path)
    result = convert("--", "trl", "sft", "--model_name_or_path", "m/x", "--dataset_name", "d",
                     "--deepspeed", "ds.json", "--chat_template_path", "tpl.jinja")  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert spec["sftConfig"]["deepspeed"] == {
        "zero_optimization": {"stage": 2}, "train_batch_size": "auto"
    }  # fmt: skip
    assert spec["sftConfig"]["chat_template"].startswith("{% for m in messages %}")
    assert "chat_template_path" not in spec["sftConfig"]
    assert spec["distributed"] == "deepspeed-zero2"
    assert "translated: spec.sftConfig.deepspeed: ds.json -> inline" in result.stderr
    # A tokenizer's file is no template: TRL reads a template only from .jinja or .j2.
    (tmp_path / "tokenizer_config.json").write_text("{}")
    tokenizer = convert("--", "trl", "sft", "--model_name_or_path", "m/x", "--dataset_name", "d",
                        "--chat_template_path", "tokenizer_config.json")  # fmt: skip
    tokenizer_sft = yaml.safe_load(tokenizer.stdout)["spec"]["sftConfig"]
    assert tokenizer_sft["chat_template_path"] == "tokenizer_config.json"
    # A name that is no file here (a Hub tokenizer's) stays as written.
    hub = convert("--", "trl", "sft", "--model_name_or_path", "m/x", "--dataset_name", "d",
                  "--chat_template_path", "org/tokenizer")  # fmt: skip
    assert yaml.safe_load(hub.stdout)["spec"]["sftConfig"]["chat_template_path"] == "org/tokenizer"


def test_deepspeed_and_fsdp_launch_flags_are_carried_as_a_config_files_keys() -> None:
    """`accelerate launch --use_deepspeed --offload_optimizer_device cpu ...`: the flags are
    keys of accelerate's deepspeed_config, carried as the file's are."""
    head = [
        "accelerate",
        "launch",
        "-q",
        "--num_processes",
        "8",
        "--num_cpu_threads_per_process",
        "4",
    ]
    tail = ["trl/scripts/sft.py", "--model_name_or_path", "m/x", "--dataset_name", "d"]
    deepspeed = convert("--", *head, "--use_deepspeed", "--zero_stage", "3",
                        "--offload_optimizer_device", "cpu", "--zero3_save_16bit_model", "true",
                        *tail)  # fmt: skip
    assert deepspeed.exit_code == 0, deepspeed.output
    spec = yaml.safe_load(deepspeed.stdout)["spec"]
    assert spec["distributed"] == "deepspeed-zero3" and spec["gpusPerNode"] == 8
    assert spec["sftConfig"]["deepspeed"]["zero_optimization"] == {
        "stage": 3,
        "offload_optimizer": {"device": "cpu"},
        "stage3_gather_16bit_weights_on_model_save": True,
    }
    assert "num_cpu_threads_per_process (an accelerate launch argument) was ignored" in (
        deepspeed.stderr
    )
    fsdp = convert("--", *head, "--use_fsdp", "--fsdp_version", "2", "--fsdp_offload_params",
                   "true", *tail)  # fmt: skip
    assert fsdp.exit_code == 0, fsdp.output
    fsdp_config = yaml.safe_load(fsdp.stdout)["spec"]["sftConfig"]["fsdp_config"]
    assert fsdp_config == {"version": 2, "cpu_offload": True}
    other = convert("--", *head, "--multi_gpu", "--offload_param_device", "cpu", *tail)
    assert other.exit_code == 0, other.output
    assert (
        "--offload_param_device (an accelerate launch flag) is not carried: the launch runs ddp"
        in (other.stderr)
    )


def test_trls_vision_language_script_line_converts_as_the_script_runs(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The seed's job: TRL's sft_vlm.py, as its docstring runs it. The script sets
    max_length to None over the command line; TRL's examples/accelerate_configs files are
    copies of the configs TRL ships, so a line copied from its docs converts elsewhere."""
    monkeypatch.chdir(tmp_path)
    result = convert(
        "--", "accelerate", "launch", "--config_file",
        "examples/accelerate_configs/deepspeed_zero3.yaml", "examples/scripts/sft_vlm.py",
        "--dataset_name", "HuggingFaceH4/llava-instruct-mix-vsft",
        "--model_name_or_path", "llava-hf/llava-1.5-7b-hf", "--gradient_accumulation_steps", "8",
        "--output_dir", "LLaVA-1.5-7B-SFT", "--dtype", "bfloat16", "--max_length", "2048",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert (spec["gpusPerNode"], spec["distributed"]) == (8, "deepspeed-zero3")
    assert spec["sftConfig"]["max_length"] is None
    assert "translated: max_length: 2048 -> None (TRL's sft_vlm.py sets it" in result.stderr
    assert "-> TRL's zero3 config" in result.stderr


def test_a_handbook_script_line_takes_its_config_as_the_first_argument(
    tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "config_qlora.yaml").write_text("model_name_or_path: m/x\ndataset_name: d\n")
    monkeypatch.chdir(tmp_path)
    result = convert("--", "accelerate", "launch", "--num_processes=1", "scripts/sft.py",
                     "config_qlora.yaml", "--learning_rate=1e-4")  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert spec["modelConfig"]["model_name_or_path"] == "m/x"
    assert spec["sftConfig"]["learning_rate"] == 1e-4


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["accelerate", "launch", "train_mine.py", "--x", "1"], "got 'train_mine.py'"),
        (
            ["accelerate", "launch", "--config_file", "recipes/accelerate_configs/zero3.yaml",
             "scripts/sft.py", "--model_name_or_path", "m/x"],
            "accelerate config recipes/accelerate_configs/zero3.yaml (--config_file): ",
        ),
    ],
)  # fmt: skip
def test_what_convert_cannot_read_is_named(argv: list[str], said: str) -> None:
    result = convert("--", *argv)
    assert result.exit_code == 2 and said in result.output, result.output


def test_a_recipe_on_standard_input() -> None:
    result = CliRunner().invoke(
        main, ["convert", "-"], input="model_name_or_path: m/x\ndataset_name: d\n"
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["spec"]["modelConfig"] == {"model_name_or_path": "m/x"}
    listed = CliRunner().invoke(main, ["convert", "-"], input="- a\n")
    assert listed.exit_code == 2 and "-: expected a YAML mapping of TRL fields" in listed.output


def test_a_command_word_alone_says_where_the_command_line_goes() -> None:
    result = convert("trl")
    assert result.exit_code == 2
    assert "give the command line after `--`" in result.output


@pytest.mark.parametrize(
    ("flags", "fsdp_config"),
    [
        # FSDP2's reshard flag is a boolean, written as accelerate's str flag takes it
        (["--fsdp_version", "2", "--fsdp_reshard_after_forward", "true"],
         {"version": 2, "reshard_after_forward": True}),
        # no version: accelerate launch runs FSDP1, whose strategy is a name
        (["--fsdp_sharding_strategy", "SHARD_GRAD_OP"],
         {"version": 1, "reshard_after_forward": "SHARD_GRAD_OP"}),
    ],
)  # fmt: skip
def test_fsdp_launch_flags_keep_accelerates_version(
    flags: list[str], fsdp_config: dict[str, Any]
) -> None:
    result = convert("--", "accelerate", "launch", "--use_fsdp", *flags, "--num_processes", "8",
                     "trl/scripts/sft.py", "--model_name_or_path", "m/x", "--dataset_name", "d")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["spec"]["sftConfig"]["fsdp_config"] == fsdp_config


def test_a_deepspeed_file_given_as_a_launch_flag_names_the_stage(tmp_path: Path) -> None:
    ds = tmp_path / "ds3.json"
    ds.write_text('{"zero_optimization": {"stage": 3}}')
    result = convert("--", "accelerate", "launch", "--use_deepspeed", "--deepspeed_config_file",
                     str(ds), "--num_processes", "8", "trl/scripts/sft.py",
                     "--model_name_or_path", "m/x", "--dataset_name", "d")  # fmt: skip
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(result.stdout)["spec"]
    assert spec["distributed"] == "deepspeed-zero3"
    assert spec["sftConfig"]["deepspeed"] == {"zero_optimization": {"stage": 3}}
    assert "dropped" not in result.stderr
