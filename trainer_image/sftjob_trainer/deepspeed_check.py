"""Check a deepspeed.json the way a training run would read it, without a GPU.

The HF Trainer fills the `"auto"` values from the training arguments and the model
(`HfTrainerDeepSpeedConfig`), then DeepSpeed parses the result (`DeepSpeedConfig`,
whose ZeRO section is a strict pydantic model). Both steps run here on CPU, so a
rendered config with a misspelt key or a bad value fails before any pod starts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any


def validate_deepspeed_config(
    config: Mapping[str, Any],
    *,
    per_device_train_batch_size: int = 1,
    gradient_accumulation_steps: int = 1,
    bf16: bool = False,
    fp16: bool = False,
    hidden_size: int = 64,
    num_training_steps: int = 10,
) -> Any:
    """Return DeepSpeed's parsed `DeepSpeedConfig`; raise on anything DeepSpeed rejects."""
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    hf_config = HfTrainerDeepSpeedConfig(copy.deepcopy(dict(config)))
    args = TrainingArguments(
        output_dir="unused",
        per_device_train_batch_size=per_device_train_batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        bf16=bf16,
        fp16=fp16,
        use_cpu=True,
        report_to="none",
    )
    hf_config.trainer_config_process(args)
    model = SimpleNamespace(config=SimpleNamespace(hidden_size=hidden_size))
    hf_config.trainer_config_finalize(args, model, num_training_steps)
    return DeepSpeedConfig(hf_config.config)
