"""Refuse trl.yaml keys that the pinned TRL would silently ignore, and values it would not
check.

`TrlParser` sets parser defaults from the YAML and drops keys it does not know
(`sft.py` parses with `fail_with_unknown_args=False`). A legacy name such as
`evaluation_strategy` would be lost without a word, so every key is checked against
the fields of the four dataclasses before parsing. The legacy names come from the operator's
one table (`sftjob_operator.api.legacy`), which hack/gen_crd.py writes into
legacy_names.json for the trainer, since the trainer image does not import the operator.

TrlParser sets the YAML's values as argparse defaults, and argparse converts only string
defaults: `learning_rate: fast` is refused, but `learning_rate: [1, 2]` would reach the
optimizer. So a value that is not a string is checked against its field's type (the
dataclasses' own annotations) where that type is one scalar: int, float, bool or str (which
also takes true or false, for `resume_from_checkpoint: true`).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import enum
import json
import types
import typing
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


def dataclass_field_names(classes: Iterable[type]) -> frozenset[str]:
    names: set[str] = set()
    for t in classes:
        names.update(f.name for f in dataclasses.fields(t))
    return frozenset(names)


@dataclasses.dataclass(frozen=True)
class Scalar:
    """A field whose type is one scalar (`int`, `float`, `bool` or `str`), maybe None."""

    kind: type
    optional: bool
    default: Any = None
    # one of a set of words (`eval_strategy: IntervalStrategy | str`), never true or false
    words: bool = False


def scalar_fields(classes: Iterable[type]) -> dict[str, Scalar]:
    """The fields of the dataclasses typed as one scalar, by name, and those that take one of
    a set of words (a str enum, or such an enum or a str); unions of other types
    (`dict | str`) are left to the trainer."""
    found: dict[str, Scalar] = {}
    for t in classes:
        try:
            hints = typing.get_type_hints(t)
        except (NameError, TypeError, AttributeError):
            continue  # an annotation this Python cannot resolve: TRL checks that class
        for f in dataclasses.fields(t):
            if (scalar := _scalar(hints.get(f.name), f.default)) is not None:
                found[f.name] = scalar
    return found


def _scalar(hint: Any, default: Any) -> Scalar | None:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    members = typing.get_args(hint) if union else (hint,)
    kinds = [m for m in members if m is not type(None)]
    optional = len(kinds) < len(members)
    shown = default if isinstance(default, int | float | bool | str) else None
    if kinds and all(_is_words(k) for k in kinds) and any(k is not str for k in kinds):
        return Scalar(str, optional, str(getattr(shown, "value", shown)), words=True)
    if len(kinds) != 1 or kinds[0] not in (int, float, bool, str):
        return None
    return Scalar(kinds[0], optional, default=shown)


def _is_words(kind: Any) -> bool:
    """str, or an enum of strings (transformers' `ExplicitEnum(str, Enum)`)."""
    return kind is str or (
        isinstance(kind, type) and issubclass(kind, str) and issubclass(kind, enum.Enum)
    )


# Fields annotated as a string that the library also takes as a list: transformers splits
# `fsdp: [full_shard, auto_wrap]` as it splits `fsdp: full_shard auto_wrap`.
LIST_ALSO = frozenset({"fsdp"})

# What a field takes, and what a YAML value is, in words; bool before int, its base class.
_NAMES: dict[type, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    datetime.date: "a date",
}


def _fits(key: str, value: Any, field: Scalar) -> bool:
    kind = field.kind
    if isinstance(value, bool):
        # `resume_from_checkpoint: true` is a str field's value; no word of an enum is
        return kind is bool or (kind is str and not field.words)
    if isinstance(value, list) and key in LIST_ALSO:
        return True
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _described(value: Any) -> str:
    if value is None:
        return "null"
    kind = next((name for t, name in _NAMES.items() if isinstance(value, t)), None)
    return f"`{json.dumps(value, default=str)}`, {kind or 'a YAML ' + type(value).__name__}"


def value_problem(key: str, value: Any, field: Scalar) -> str | None:
    """Why a YAML value cannot be the field's (None when it can). A string is left to
    argparse, which converts it or says why not."""
    if isinstance(value, str):
        return None
    if field.optional if value is None else _fits(key, value, field):
        return None
    wanted = _NAMES[field.kind]
    if field.words and isinstance(value, bool):
        word = "no" if value is False else field.default
        return (
            f"trl.yaml: `{key}` is {str(value).lower()} (YAML reads an unquoted no or off as "
            f'false, yes or on as true), but the field takes a word; quote it (`{key}: "{word}"`)'
        )
    if field.kind is str and not isinstance(value, list | dict | type(None)):
        fix = f'quote it (`{key}: "{value}"`)'
    else:
        fix = f"write {wanted}"
        if field.default is not None:
            fix += f" such as its default, `{key}: {json.dumps(field.default)}`"
        if value is None:
            fix += ", or leave the key out"
    return f"trl.yaml: `{key}` is {_described(value)}, but the field takes {wanted}; {fix}"


def config_problems(
    config: Mapping[str, Any], known: frozenset[str], scalars: Mapping[str, Scalar] | None = None
) -> list[str]:
    """One message per offending key, in the file's order; empty when the config is clean.
    `scalars`: the fields typed as one scalar (scalar_fields), whose values are checked."""
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
        elif scalars and key in scalars and (wrong := value_problem(key, value, scalars[key])):
            problems.append(wrong)
    return problems


def check_config(
    config: Any, known: frozenset[str], scalars: Mapping[str, Scalar] | None = None
) -> None:
    """Raise ConfigError, listing every problem, if the config is not a clean mapping."""
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"trl.yaml: expected a mapping of TRL arguments, got {type(config).__name__}; "
            "write `key: value` lines such as `model_name_or_path: ...`"
        )
    problems = config_problems(config, known, scalars)
    if problems:
        raise ConfigError("; ".join(problems))
