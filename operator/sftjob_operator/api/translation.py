"""What normalization reports: a refusal (`SpecError`) or a translation the user should see."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class SpecError(ValueError):
    """A spec the trainer cannot run. `field` is the spec path, `message` what to write instead."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Translation:
    field: str  # the spec path the user wrote, e.g. spec.sftConfig.evaluation_strategy
    action: str  # renamed | value-translated | moved | restructured | dropped
    message: str


def show(value: Any) -> str:
    """A value as the user writes it in YAML/JSON (true, not True)."""
    return json.dumps(value)
