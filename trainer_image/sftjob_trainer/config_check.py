"""Refuse trl.yaml keys that the pinned TRL would silently ignore.

`TrlParser` sets parser defaults from the YAML and drops keys it does not know
(`sft.py` parses with `fail_with_unknown_args=False`). A legacy name such as
`evaluation_strategy` would be lost without a word, so every key is checked against
the fields of the four dataclasses before parsing. The legacy names come from the operator's
one table (`sftjob_operator.api.legacy`), which hack/gen_crd.py writes into
legacy_names.json for the trainer, since the trainer image does not import the operator.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

# Keys TrlParser itself consumes from the YAML.
PARSER_KEYS = frozenset({"env"})


@cache
def legacy_table() -> dict[str, Any]:
    """The operator's legacy table as hack/gen_crd.py writes it for the trainer (one source)."""
    text = resources.files("sftjob_trainer").joinpath("legacy_names.json").read_text()
    table: dict[str, Any] = json.loads(text)
    return table


def _legacy_value_note(key: str, value: Any) -> str | None:
    for alias in legacy_table()["values"]:
        if alias["name"] == key and alias["old"] == value and isinstance(value, str):
            new = alias["new"]
            fix = f"write `{key}: {new}` instead" if new else "it is not supported"
            return f"{alias['note']}; {fix}"
    return None


class ConfigError(ValueError):
    """A trl.yaml the trainer refuses; the message names the key and the fix."""


def dataclass_field_names(types: Iterable[type]) -> frozenset[str]:
    import dataclasses

    names: set[str] = set()
    for t in types:
        names.update(f.name for f in dataclasses.fields(t))
    return frozenset(names)


def config_problems(config: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    """One message per offending key, in the file's order; empty when the config is clean."""
    problems = []
    table = legacy_table()
    for key, value in config.items():
        if not isinstance(key, str):
            problems.append(
                f"trl.yaml: key {key!r} is not a name; keys are TRL argument names such as "
                "`learning_rate`"
            )
        elif key in table["names"]:
            problems.append(f"trl.yaml: `{key}` is a legacy name: {table['names'][key]}")
        elif key in table["forbidden"]:
            problems.append(f"trl.yaml: `{key}` is not allowed: {table['forbidden'][key]}")
        elif key not in known and key not in PARSER_KEYS:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean `{close[0]}`?" if close else "remove it"
            problems.append(
                f"trl.yaml: `{key}` is not a field of ScriptArguments, SFTConfig, ModelConfig "
                f"or DatasetMixtureConfig in this TRL; {hint}"
            )
        elif (note := _legacy_value_note(key, value)) is not None:
            problems.append(f"trl.yaml: `{key}: {value}` is a legacy value: {note}")
    return problems


def check_config(config: Any, known: frozenset[str]) -> None:
    """Raise ConfigError, listing every problem, if the config is not a clean mapping."""
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"trl.yaml: expected a mapping of TRL arguments, got {type(config).__name__}; "
            "write `key: value` lines such as `model_name_or_path: ...`"
        )
    problems = config_problems(config, known)
    if problems:
        raise ConfigError("; ".join(problems))
