"""What TRL refuses for vision data, refused before the model loads.

TRL's SFTTrainer checks these only after it has loaded the model (minutes, for a 7B
vision-language model); the trainer checks the first training row as TRL does and fails
at once, with a message that names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IMAGE_COLUMNS = ("image", "images")


def is_vision_row(row: Mapping[str, Any]) -> bool:
    """TRL's own test: a row with an image or images key."""
    return any(column in row for column in IMAGE_COLUMNS)


def vision_problems(training_args: Any) -> list[str]:
    """What a vision dataset cannot train with, each naming the sftConfig field."""
    problems = []
    if training_args.packing:
        problems.append(
            "sftConfig.packing: TRL cannot pack vision data (image tokens would be cut "
            "across sequences); write packing: false"
        )
    if training_args.padding_free:
        problems.append(
            "sftConfig.padding_free: TRL does not support padding-free training for vision "
            "data; write padding_free: false"
        )
    if training_args.max_length is not None and training_args.truncation_mode == "keep_end":
        problems.append(
            "sftConfig.truncation_mode: keep_end would cut the image tokens out of the prompt; "
            "write truncation_mode: keep_start, or max_length: null"
        )
    return problems
