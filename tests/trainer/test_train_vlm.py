"""Vision-language SFT with the tiny offline LLaVA: the seed's job, at toy size.

TRL 1.16 picks the model class from the checkpoint's architecture and collates the images
with the model's processor; these runs go through the real `sftjob-train` entrypoint as a
pod would.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.checkpoints import is_complete_checkpoint
from trainer_helpers import (
    RUN_TIMEOUT_S,
    accelerate_config,
    free_port,
    kill_group,
    pod_env,
    run_trainer,
    start,
    train_command,
    write_yaml,
)

pytestmark = pytest.mark.trainer

MAX_STEPS = 8


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sftjob_trainer.tinyvlm import build

    return build(tmp_path_factory.mktemp("tiny-vlm"))


def vlm_config(tiny_vlm: Any, out: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model_name_or_path": str(tiny_vlm.model),
        "datasets": [
            {"path": "json", "data_files": str(tiny_vlm.data / "train.jsonl"), "split": "train"}
        ],
        "output_dir": str(out),
        "max_steps": MAX_STEPS,
        "per_device_train_batch_size": 4,
        "learning_rate": 0.005,
        "lr_scheduler_type": "constant",
        "logging_steps": 1,
        "save_strategy": "no",
        "max_length": 64,
        "use_cpu": True,
        "bf16": False,
        "gradient_checkpointing": False,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        "seed": 0,
    }
    config.update(overrides)
    return config


def test_one_process_trains_and_saves_what_generates_from_an_image(
    tiny_vlm: Any, tmp_path: Path
) -> None:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = tmp_path / "out"
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", vlm_config(tiny_vlm, out)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.finished_steps() == {0: MAX_STEPS}
    final = run.progress()[-1]
    assert final["final"] is True and final["step"] == MAX_STEPS
    assert final["tokens_per_second"] and final["tokens_per_second"] > 0
    losses = [r["loss"] for r in run.progress() if r.get("loss") is not None]
    assert losses[-1] < losses[0] - 0.3, losses  # it learned from the images and answers

    model = AutoModelForImageTextToText.from_pretrained(out)
    processor = AutoProcessor.from_pretrained(out)  # the processor was saved with the model
    assert type(processor).__name__ == "LlavaProcessor"
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(
        images=[Image.new("RGB", (16, 16), (220, 30, 30))], text=prompt, return_tensors="pt"
    )
    with torch.no_grad():
        generated = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] > inputs["input_ids"].shape[1]


def test_two_processes_over_gloo(tiny_vlm: Any, tmp_path: Path) -> None:
    config = write_yaml(tmp_path / "trl.yaml", vlm_config(tiny_vlm, tmp_path / "out"))
    accel = write_yaml(tmp_path / "accelerate.yaml", accelerate_config(1, 2))
    run = run_trainer(
        config,
        tmp_path,
        accel,
        JOB_COMPLETION_INDEX="0",
        SFTJOB_NUM_NODES="1",
        SFTJOB_GPUS_PER_NODE="0",
        SFTJOB_PROCS_PER_NODE="2",
        MASTER_PORT=str(free_port()),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.finished_steps() == {0: MAX_STEPS, 1: MAX_STEPS}
    assert (tmp_path / "out" / "processor_config.json").is_file()


def test_killed_run_resumes_from_its_checkpoint(tiny_vlm: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    steps = 200
    config = write_yaml(
        tmp_path / "trl.yaml",
        vlm_config(tiny_vlm, out, max_steps=steps, save_strategy="steps", save_steps=5),
    )
    proc = start(train_command(config), pod_env(tmp_path / "first"), tmp_path / "first", "t")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any(is_complete_checkpoint(p) for p in out.glob("checkpoint-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    kill_group(proc)
    resumed_from = max(
        int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if is_complete_checkpoint(p)
    )
    assert resumed_from < steps

    run = run_trainer(config, tmp_path / "second")
    assert run.returncode == 0, run.stderr[-3000:]
    started = run.progress()[0]
    assert started["resumed"] is True and started["step"] >= resumed_from
    assert run.finished_steps() == {0: steps}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"packing": True}, "sftConfig.packing"),
        ({"padding_free": True}, "sftConfig.padding_free"),
        ({"truncation_mode": "keep_end"}, "sftConfig.truncation_mode"),
    ],
)
def test_what_trl_refuses_for_images_fails_before_the_model_loads(
    tiny_vlm: Any, tmp_path: Path, overrides: dict[str, Any], field: str
) -> None:
    # The model's config and processor without its weights: reaching the model load would
    # fail differently.
    config = vlm_config(tiny_vlm, tmp_path / "out", **overrides)
    weightless = tmp_path / "no-such-model"
    shutil.copytree(tiny_vlm.model, weightless, ignore=shutil.ignore_patterns("*.safetensors"))
    config["model_name_or_path"] = str(weightless)
    run = run_trainer(write_yaml(tmp_path / "trl.yaml", config), tmp_path)
    assert run.returncode == 2, run.stderr[-3000:]
    reason = (tmp_path / "termination-log").read_text()
    assert field in reason and "no-such-model" not in reason
