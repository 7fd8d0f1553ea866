"""Stands in for `sftjob_trainer.train` under a real `accelerate launch`: prints, as JSON,
the parallelism config that TrainingArguments and accelerate's plugins would train with."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def plugin_view() -> dict[str, Any]:
    from accelerate.utils import DeepSpeedPlugin, FullyShardedDataParallelPlugin

    view: dict[str, Any] = {}
    if os.environ.get("ACCELERATE_USE_DEEPSPEED") == "true":
        view["deepspeed"] = DeepSpeedPlugin().hf_ds_config.config
    if os.environ.get("ACCELERATE_USE_FSDP") == "true":
        plugin = FullyShardedDataParallelPlugin()
        view["fsdp"] = {
            "fsdp_version": plugin.fsdp_version,
            "reshard_after_forward": plugin.reshard_after_forward,
            "sharding_strategy": str(plugin.sharding_strategy),
            "cpu_offload": type(plugin.cpu_offload).__name__,
            "transformer_cls_names_to_wrap": plugin.transformer_cls_names_to_wrap,
            "activation_checkpointing": plugin.activation_checkpointing,
        }
    return view


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    from sftjob_trainer.train import _dataclass_types
    from trl import TrlParser

    parsed = TrlParser(_dataclass_types()).parse_args_and_config(
        ["--config", args.config], fail_with_unknown_args=False
    )
    training_args = parsed[1]
    view = {
        "training_args": {
            "deepspeed": training_args.deepspeed,
            "fsdp": training_args.fsdp,
            "fsdp_plugin_args": training_args.fsdp_plugin_args,
        },
        **plugin_view(),
    }
    sys.stdout.write("PROBE " + json.dumps(view, default=str) + "\n")


if __name__ == "__main__":
    main()
