"""LoRA, packing, the three dataset forms, and configs the trainer must refuse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trainer_helpers import accelerate_config, base_config, run_trainer, write_yaml

pytestmark = pytest.mark.trainer


def test_lora_on_messages_with_assistant_only_loss(tiny: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = write_yaml(
        tmp_path / "trl.yaml",
        base_config(
            tiny,
            out,
            dataset_name=str(tiny.messages_data),
            max_steps=4,
            assistant_only_loss=True,
            use_peft=True,
            lora_r=4,
            lora_alpha=8,
            lora_target_modules=["q_proj", "v_proj"],
        ),
    )
    run = run_trainer(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "adapter_model.safetensors").is_file()
    assert (out / "adapter_config.json").is_file()
    assert not (out / "model.safetensors").exists()
    assert run.progress()[-1]["percent"] == 100.0


def test_packing_on_prompt_completion_from_a_mixture(tiny: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    data = tiny.prompt_completion_data / "train.jsonl"
    cfg = base_config(tiny, out, max_steps=4, packing=True, max_length=48)
    del cfg["dataset_name"]
    cfg["datasets"] = [{"path": "json", "data_files": str(data), "split": "train"}]
    config = write_yaml(tmp_path / "trl.yaml", cfg)
    run = run_trainer(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "model.safetensors").is_file()
    assert run.finished_steps() == {0: 4}


LEGACY = {
    # key: (value, what the message must tell the user to write instead)
    "evaluation_strategy": ("steps", "eval_strategy"),
    "torch_dtype": ("float32", "dtype"),
    "max_seq_length": (64, "max_length"),
    "lora_rnak": (4, "lora_r"),
    "hub_token": ("hf_secret", "hubTokenSecretRef"),
}


def test_legacy_and_unknown_keys_are_refused(tiny: Any, tmp_path: Path) -> None:
    overrides = {key: value for key, (value, _) in LEGACY.items()}
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", **overrides))
    run = run_trainer(config, tmp_path)
    assert run.returncode == 2
    reason = (tmp_path / "termination-log").read_text()
    assert len(reason.strip().splitlines()) == 1
    for key, (_, fix) in LEGACY.items():
        assert f"`{key}`" in reason and fix in reason, key
    assert "hf_secret" not in reason
    assert reason.strip() in run.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was created


def test_values_of_the_wrong_type_are_refused_before_anything_loads(
    tiny: Any, tmp_path: Path
) -> None:
    """TrlParser passes a YAML value that is not a string to SFTConfig unconverted:
    `learning_rate: [1, 2]` would reach the optimizer. The trainer refuses it first."""
    wrong = {"learning_rate": [1, 2], "max_steps": 2.5, "packing": 1}
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", **wrong))
    run = run_trainer(config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text()
    assert len(reason.strip().splitlines()) == 1
    assert "`learning_rate` is `[1, 2]`, a list, but the field takes a number" in reason
    assert "`max_steps` is `2.5`, a number, but the field takes an integer" in reason
    assert "`packing` is `1`, an integer, but the field takes true or false" in reason
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ({"mixed_precision": "fp9"}, "mixed_precision: fp9 is not a precision; write one of no"),
        ({"unknown_key": 3}, "had unknown keys (['unknown_key'])"),
    ],
)
def test_an_accelerate_config_that_accelerate_refuses_says_why_and_is_not_restarted(
    tiny: Any, tmp_path: Path, setting: dict[str, Any], reason: str
) -> None:
    """accelerate launch refuses the file before any rank runs, so no rank can say why: the
    launcher asks accelerate, reports its reason and exits 2 (no restart)."""
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out"))
    accelerate = write_yaml(
        tmp_path / "accelerate.yaml", {**accelerate_config(1, 1), "use_cpu": True, **setting}
    )
    run = run_trainer(config, tmp_path, accelerate)
    assert run.returncode == 2, run.stderr[-3000:]
    logged = (tmp_path / "termination-log").read_text().strip()
    assert logged.startswith(f"--accelerate-config {accelerate}: accelerate refuses it: ")
    assert reason in logged and len(logged.splitlines()) == 1


def test_a_local_path_that_is_not_there_is_refused_before_anything_loads(
    tiny: Any, tmp_path: Path
) -> None:
    missing = tmp_path / "models" / "typo"
    config = write_yaml(
        tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", model_name_or_path=str(missing))
    )
    run = run_trainer(config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert reason.startswith(f"trl.yaml: `model_name_or_path: {missing}`: no such file")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("form", ["jsonl", "parquet"])
def test_a_dataset_without_rows_is_refused_naming_it(tiny: Any, tmp_path: Path, form: str) -> None:
    """An empty JSON Lines file has no row to read the columns from; a Parquet file has its
    columns and no rows. Either way nothing can train, on any restart."""
    data = tmp_path / "empty"
    data.mkdir()
    if form == "jsonl":
        (data / "train.jsonl").write_text("")
        said = f"trl.yaml: {data}: a data file is empty"
    else:
        import datasets

        datasets.Dataset.from_dict({"text": []}).to_parquet(str(data / "train.parquet"))
        said = f'trl.yaml: {data}: Instruction "train" corresponds to no data!; point'
    config = write_yaml(
        tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", dataset_name=str(data))
    )
    run = run_trainer(config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert (tmp_path / "termination-log").read_text().strip().startswith(said)


def test_lora_target_modules_the_model_lacks_are_refused(tiny: Any, tmp_path: Path) -> None:
    """PEFT finds out only after the model loaded; on every restart it would again."""
    cfg = base_config(
        tiny, tmp_path / "out", use_peft=True, lora_r=4, lora_target_modules=["no_such_proj"]
    )
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert reason.startswith(
        "trl.yaml: lora_target_modules (or lora_target_parameters): NoMatchingPeftModuleError: "
    )
    assert "no_such_proj" in reason and reason.endswith("or all-linear")


def test_rows_sft_cannot_read_are_refused_before_the_model_loads(tiny: Any, tmp_path: Path) -> None:
    """SFTTrainer would find out with KeyError: 'text' after the model loaded, on every
    restart."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"question": "a", "answer": "b"}\n' * 8)
    config = write_yaml(
        tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", dataset_name=str(data))
    )
    run = run_trainer(config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert reason.startswith(
        f"trl.yaml: the `train` split of {data} has the columns `question`, `answer`, none "
        "of which SFT reads"
    )


PLAIN_CHATML = (  # no {% generation %} markers, and not a template TRL knows how to mark
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>\\n' }}{% endfor %}"
)


# As Gemma's template does: no system role.
NO_SYSTEM_ROLE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}" + PLAIN_CHATML
)


# A message content the template cannot render (a number: TypeError in the template's code)
# is the same path as template_raises; tests/unit/test_trainer_refusal.py classifies both.
@pytest.mark.parametrize("case", ["template_without_markers", "template_raises"])
def test_what_sfttrainer_refuses_as_it_is_built_is_not_restarted(
    tiny: Any, tmp_path: Path, case: str
) -> None:
    """SFTTrainer's own refusals (TRL's ValueError as it checks its arguments, a template's
    error as it tokenizes the rows) came after the model loaded, as exit 1: restarted,
    refused again."""
    if case == "template_without_markers":
        template = tmp_path / "chatml.jinja"
        template.write_text(PLAIN_CHATML)
        settings = dict(dataset_name=str(tiny.messages_data), assistant_only_loss=True,
                        chat_template_path=str(template))  # fmt: skip
        named = "ValueError: The chat template is not training-compatible"
    else:
        template = tmp_path / "gemma-like.jinja"
        template.write_text(NO_SYSTEM_ROLE)
        data = tmp_path / "data"
        data.mkdir()
        row = json.dumps({"messages": [{"role": "system", "content": "be brief"},
                                       {"role": "user", "content": "hi"},
                                       {"role": "assistant", "content": "hello"}]})  # fmt: skip
        (data / "train.jsonl").write_text((row + "\n") * 8)
        settings = dict(dataset_name=str(data), chat_template_path=str(template))
        named = "TemplateError: System role not supported"
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, tmp_path / "out", **settings))
    run = run_trainer(config, tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text().strip()
    assert reason.startswith(f"trl.yaml: SFTTrainer refused this job before training: {named}")
    assert reason.endswith("(the full message is in the log above)")
    assert "Traceback" in run.stderr  # the library's context stays in the log


@pytest.mark.parametrize("case", ["no_step", "unknown_best_metric"])
def test_what_every_attempt_would_meet_while_training_is_refused(
    tiny: Any, tmp_path: Path, case: str
) -> None:
    """Both ended as exit 0 with the untouched model saved (a batch larger than the data,
    with drop_last) or exit 1 at the first evaluation (a metric the evaluation does not
    report), which the operator restarts into the same end."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"text": "a short row"}\n' * 6)
    if case == "no_step":
        settings = dict(dataloader_drop_last=True, per_device_train_batch_size=8)
        said = "trl.yaml: training ran no step, so no model is saved: `dataloader_drop_last`"
    else:
        settings = dict(max_steps=2, per_device_train_batch_size=2, eval_strategy="steps",
                        eval_steps=1, save_strategy="steps", save_steps=1,
                        metric_for_best_model="eval_accuracy", dataset_test_split="train")  # fmt: skip
        said = 'trl.yaml: training stopped at step 1: KeyError: "The `metric_for_best_model`'
    cfg = base_config(tiny, tmp_path / "out", dataset_name=str(data), **settings)
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert (tmp_path / "termination-log").read_text().startswith(said)
    assert not (tmp_path / "out" / "model.safetensors").exists()


@pytest.mark.parametrize("case", ["openai_conversations", "a_row_without_an_assistant_turn"])
def test_rows_trl_fails_on_as_it_tokenizes_them_are_named_before_the_model_loads(
    tiny: Any, tmp_path: Path, case: str
) -> None:
    """Both were exit 1 after the model loaded (KeyError: 'text' through datasets' row
    mapping; TRL's RuntimeError blaming the chat template), restarted into the same end."""
    user, assistant = {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}
    data = tmp_path / "data"
    data.mkdir()
    if case == "openai_conversations":
        rows = [{"conversations": [user, assistant]}] * 8
        settings: dict[str, Any] = {}
        said = "holds `{role, content}` turns in `conversations`"
    else:
        rows = (
            [{"messages": [user, assistant]}] * 3
            + [{"messages": [user]}]
            + [{"messages": [user, assistant]}] * 4
        )
        settings = {"assistant_only_loss": True}
        said = "has no assistant turn in `messages` in row 3, so with assistant_only_loss"
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = base_config(tiny, tmp_path / "out", dataset_name=str(data), **settings)
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", cfg), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    assert said in (tmp_path / "termination-log").read_text()
    assert "loading weights" not in run.stderr.lower()  # refused before the model loads
