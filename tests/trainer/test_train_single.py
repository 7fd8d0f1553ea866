"""One process, no accelerate config: trains, learns, saves, reports progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trainer_helpers import Run, base_config, run_trainer, write_yaml

pytestmark = pytest.mark.trainer

MAX_STEPS = 12


@pytest.fixture(scope="module")
def single_run(tiny: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    workdir = tmp_path_factory.mktemp("single")
    out = workdir / "output"
    config = write_yaml(
        workdir / "trl.yaml",
        base_config(tiny, out, max_steps=MAX_STEPS, save_strategy="steps", save_steps=6),
    )
    return run_trainer(config, workdir), out


def test_exits_zero(single_run: tuple[Run, Path]) -> None:
    run, _ = single_run
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.finished_steps() == {0: MAX_STEPS}


def test_loss_decreases(single_run: tuple[Run, Path]) -> None:
    _, out = single_run
    state = json.loads((out / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == MAX_STEPS
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first - 0.5, losses


def test_model_and_tokenizer_saved(single_run: tuple[Run, Path]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, out = single_run
    model = AutoModelForCausalLM.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.num_hidden_layers == 2
    assert tokenizer("the cat sees a red ball.")["input_ids"]
    assert "{% generation %}" in (tokenizer.chat_template or "")


def test_progress_is_monotonic_and_ends_at_100(single_run: tuple[Run, Path]) -> None:
    run, _ = single_run
    records = run.progress()
    assert records[0]["event"] == "started"
    assert records[0]["step"] == 0
    progress = [r for r in records if r["event"] == "progress"]
    steps = [r["step"] for r in progress if not r["final"]]
    assert steps == sorted(set(steps)) and len(steps) >= 2
    final = progress[-1]
    assert final["final"] is True
    assert final["percent"] == 100.0
    assert final["step"] == final["max_steps"] == MAX_STEPS
    assert final["loss"] is not None and final["learning_rate"] is not None
    assert final["tokens_per_second"] > 0
    assert final["eta_seconds"] == 0.0
    # The same records go to stdout as JSON lines.
    stdout_records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"')]
    assert stdout_records == records
