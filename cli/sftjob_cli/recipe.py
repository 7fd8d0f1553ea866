"""Place the keys of a flat TRL recipe into the four spec blocks, spec.env and the launch side.

A `trl sft` config is one flat mapping read by TrlParser into ScriptArguments, SFTConfig,
ModelConfig and DatasetMixtureConfig; an SFTJob keeps each field under its dataclass's
block. Pure.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_operator.api.blocks import DATASET_MIXTURE, MODEL_CONFIG, SCRIPT_ARGS, SFT_CONFIG

from sftjob_cli import accelerate
from sftjob_cli.catalog import ENV_KEY, FieldCatalog
from sftjob_cli.env import env_list
from sftjob_cli.values import conform

# The order of the blocks in an emitted spec.
BLOCK_ORDER = (SCRIPT_ARGS, DATASET_MIXTURE, MODEL_CONFIG, SFT_CONFIG)


@dataclass(frozen=True)
class Placement:
    blocks: dict[str, dict[str, Any]]
    env: list[dict[str, str]] = field(default_factory=list)
    launch: dict[str, Any] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what was left out, one line each


def place(config: Mapping[str, Any], catalog: FieldCatalog) -> Placement:
    blocks: dict[str, dict[str, Any]] = {block: {} for block in BLOCK_ORDER}
    env: list[dict[str, str]] = []
    launch: dict[str, Any] = {}
    unknown: list[str] = []
    notes: list[str] = []
    for key, value in config.items():
        if key == ENV_KEY:
            env, env_notes = env_list(value)
            notes.extend(env_notes)
        elif key in accelerate.LAUNCH_KINDS:
            # A string is converted as a flag's text is: `use_cpu: "no"` is false.
            launch[key], note = conform(key, accelerate.LAUNCH_KINDS[key], value)
            if note:
                notes.append(f"converted: {note}")
        elif key in accelerate.IGNORED_LAUNCH_ARGS:
            notes.append(
                f"dropped: {key} (an accelerate launch argument) was ignored: "
                f"{accelerate.IGNORED_LAUNCH_ARGS[key]}"
            )
        elif not isinstance(key, str) or (placed := catalog.place(key)) is None:
            unknown.append(str(key))
        elif value is None and key in catalog.trl.nullable.get(placed.block, ()):
            blocks[placed.block][key] = None  # null means something here (max_length: none)
        elif value is None:
            notes.append(
                f"dropped: spec.{placed.block}.{key}: null was left out: an SFTJob field "
                "cannot be null, so TRL's default applies"
            )
        else:
            blocks[placed.block][key], note = conform(key, placed.kind, value)
            if note:
                notes.append(f"converted: spec.{placed.block}.{note}")
    return Placement(blocks, env, launch, tuple(unknown), tuple(notes))


def did_you_mean(key: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(dict.fromkeys(names)), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_message(keys: Iterable[str], catalog: FieldCatalog) -> str:
    fields = catalog.trl
    names = catalog.names()
    lines = [f"  {key}{did_you_mean(key, names)}" for key in keys]
    return (
        f"these keys are not fields of TRL {fields.trl_version} ScriptArguments, "
        "DatasetMixtureConfig, ModelConfig or SFTConfig, nor a name the SFTJob translates:\n"
        + "\n".join(lines)
        + "\nRemove them or fix their names, or pass --drop-unknown to leave them out"
    )


def dropped_notes(keys: Iterable[str], catalog: FieldCatalog) -> tuple[str, ...]:
    return tuple(
        f"dropped: {key} is not a TRL field (--drop-unknown){did_you_mean(key, catalog.names())}"
        for key in keys
    )
