"""Command-line strings to typed values, by the field kinds of trl_fields.json.

HfArgumentParser (behind TRL's TrlParser) reads every flag as a string and converts it
with the dataclass field's type; this module does the same with the kinds the CRD
generator recorded, so `--lora_r 16` becomes 16 and `--bf16` becomes true.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from sftjob_cli.errors import ConvertError

# transformers.hf_argparser.string_to_bool
_TRUE = frozenset({"yes", "true", "t", "y", "1"})
_FALSE = frozenset({"no", "false", "f", "n", "0"})
# HfArgumentParser gives a list field nargs="+"; a `str | list[str]` field (string-or-list,
# e.g. report_to) is read as a string, one value.


def string_to_bool(flag: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConvertError(f"{flag}: expected a boolean (true/false, yes/no, 1/0), not {text!r}")


def _number(flag: str, text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConvertError(f"{flag}: expected a number, not {text!r}") from None


def _integer(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConvertError(f"{flag}: expected an integer, not {text!r}") from None


def _json(flag: str, text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConvertError(f"{flag}: expected {what} as JSON text, not {text!r} ({err})") from None


def _object_or_string(flag: str, text: str) -> Any:
    # TrainingArguments JSON-decodes dict fields given as text; anything else is a path.
    return _json(flag, text, "an object") if text.lstrip().startswith("{") else text


def _bool_or_string(flag: str, text: str) -> bool | str:
    return text.lower() == "true" if text.lower() in ("true", "false") else text


def _int_or_string(flag: str, text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def infer_scalar(text: str) -> Any:
    """A value of unknown kind, read as YAML reads a plain scalar (true, 3, 0.5, text)."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, bool | int | float | str) else text


_SINGLE: dict[str, Callable[[str, str], Any]] = {
    "bool": string_to_bool,
    "int": _integer,
    "number": _number,
    "string": lambda flag, text: text,
    "enum": lambda flag, text: text,
    "string-or-list": lambda flag, text: text,
    "object-or-string": _object_or_string,
    "bool-or-string": _bool_or_string,
    "int-or-string": _int_or_string,
    "bool-map": lambda flag, text: _json(flag, text, "an object of booleans"),
    "dataclass-list": lambda flag, text: _json(flag, text, "a list of objects"),
}


def coerce(flag: str, kind: str | None, values: Sequence[str]) -> Any:
    """The value of `--flag values...` for a field of this kind (None: unknown kind)."""
    if kind == "bool" and not values:
        return True
    if kind == "string-list":
        if not values:
            raise ConvertError(f"{flag}: expected one or more values")
        return list(values)
    if kind == "string-or-list" and len(values) > 1:
        raise ConvertError(
            f"{flag}: expected one value, got {len(values)}: {' '.join(values)} (TRL's parser "
            "reads one string here; write the list in the --config YAML file)"
        )
    if kind is None:
        if not values:
            return True
        inferred = [infer_scalar(v) for v in values]
        return inferred[0] if len(inferred) == 1 else inferred
    if len(values) != 1:
        got = "none" if not values else f"{len(values)}: {' '.join(values)}"
        raise ConvertError(f"{flag}: expected one value, got {got}")
    return _SINGLE.get(kind, _SINGLE["string"])(flag, values[0])


def conform(key: str, kind: str | None, value: Any) -> tuple[Any, str | None]:
    """A YAML value as TrlParser would take it, and a note when that changed it.

    argparse converts a string default with the field's type, so `learning_rate: 2e-5` (a
    string in YAML 1.1) is the number 2e-05, and `bf16: "true"` is true. A single string for
    a list field is a one-item list (TRL's ModelConfig unwraps one-item lists again), and a
    number for a string field is its text (the CRD types the field as a string). An enum
    read as false was an unquoted `no`.
    """
    if isinstance(value, str) and kind in ("int", "number", "bool"):
        new = coerce(key, kind, [value])
        what = {"int": "an integer", "number": "a number", "bool": "a boolean"}[kind]
        return (
            new,
            f"{key}: {json.dumps(value)} (a string in YAML) was read as {what}, as TrlParser does",
        )
    if kind == "enum" and value is False:
        # YAML 1.1 reads an unquoted `no` (eval_strategy: no) as false; TRL would refuse it.
        return "no", f'{key}: false (an unquoted no in YAML) was read as "no"; quote it'
    if isinstance(value, str) and kind == "string-list":
        return [value], None
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value), None
    return value, None
