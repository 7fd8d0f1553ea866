"""The deepspeed.json shapes the operator renders pass DeepSpeed's own parser (no GPU)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.deepspeed_check import validate_deepspeed_config

pytestmark = pytest.mark.trainer

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "deepspeed"


def _load(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())


@pytest.mark.parametrize(
    ("name", "stage"), [("zero2.json", 2), ("zero3.json", 3), ("zero3_offload.json", 3)]
)
@pytest.mark.parametrize("bf16", [True, False])
def test_sample_is_accepted(name: str, stage: int, bf16: bool) -> None:
    parsed = validate_deepspeed_config(
        _load(name), per_device_train_batch_size=2, gradient_accumulation_steps=4, bf16=bf16
    )
    assert parsed.zero_optimization_stage == stage
    assert parsed.train_micro_batch_size_per_gpu == 2
    assert parsed.train_batch_size == 8  # world size 1 x 2 x 4, filled from "auto"
    assert parsed.bfloat16_config.enabled is bf16


def test_misspelt_zero_key_is_rejected() -> None:
    config = _load("zero3.json")
    config["zero_optimization"]["stage3_gather_16bit_weights_on_model_sav"] = True
    with pytest.raises(Exception, match="stage3_gather_16bit_weights_on_model_sav"):
        validate_deepspeed_config(config)


def test_unknown_stage_is_rejected() -> None:
    config = _load("zero2.json")
    config["zero_optimization"]["stage"] = 4
    with pytest.raises(Exception, match="stage"):
        validate_deepspeed_config(config)


def test_fixed_batch_size_that_disagrees_with_trl_is_rejected() -> None:
    config = _load("zero2.json")
    config["train_micro_batch_size_per_gpu"] = 3
    with pytest.raises(ValueError, match="train_micro_batch_size_per_gpu"):
        validate_deepspeed_config(config, per_device_train_batch_size=2)
