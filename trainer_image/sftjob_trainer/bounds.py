"""The CRD's bounds, checked again for a trl.yaml or sftjob.yaml written by hand.

For an SFTJob the apiserver refuses a batch size of 0 or a mixture weight above 1. A file
written for a hand-run `sftjob-train` has no apiserver in front of it, and such a value
failed deep in training with a traceback (a weight above 1 was an IndexError). hack/gen_crd.py
writes the same bounds into field_bounds.json from one source (its BOUNDS and the extension
fields' schemas), since the trainer image does not import the operator.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

TRL_FILE = "trl.yaml"
SETTINGS_FILE = "sftjob.yaml"

_KINDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "number": ("a number", (int, float)),
    "integer": ("an integer", (int,)),
    "boolean": ("true or false", (bool,)),
    "string": ("a string", (str,)),
    "array": ("a list", (list,)),
}


@cache
def bounds_table() -> dict[str, Any]:
    text = resources.files("sftjob_trainer").joinpath("field_bounds.json").read_text()
    table: dict[str, Any] = json.loads(text)
    return table


def _kind_fits(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _KINDS[kind][1])


def _range(schema: Mapping[str, Any]) -> str:
    parts = []
    if "minimum" in schema:
        above = schema.get("exclusiveMinimum") is True
        low = schema["minimum"]
        parts.append(f"above {low}" if above else f"of {low} or more")
    if "maximum" in schema:
        parts.append(f"up to {schema['maximum']}")
    return " and ".join(parts)


def value_problem(name: str, value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why `value` breaks `schema` (an OpenAPI schema as the CRD writes it), naming `name`;
    None when it does not."""
    kind = schema.get("type")
    if kind is not None:
        wanted = _KINDS[kind][0]
    else:  # the bounds of a trl.yaml field: its dataclass gave the value its type
        wanted = "an integer" if isinstance(value, int) else "a number"
    if value is None and schema.get("required"):
        return f"`{name}` is not set, and it is required"
    if value is None:
        ok = schema.get("nullable") or kind is None
        return None if ok else f"`{name}` is null; write {wanted}"
    if kind is not None and not _kind_fits(value, kind):
        return f"`{name}` is {json.dumps(value, default=str)}; write {wanted}"
    if isinstance(value, list):
        items = schema.get("items", {})
        found = (value_problem(f"{name}[{i}]", v, items) for i, v in enumerate(value))
        return "; ".join(p for p in found if p) or None
    if "properties" in schema and (dataclasses.is_dataclass(value) or isinstance(value, Mapping)):
        # a mapping, or the dataclass TRL parsed one into
        fields = vars(value) if dataclasses.is_dataclass(value) else value
        found = (
            value_problem(f"{name}.{key}", fields.get(key), sub)
            for key, sub in schema["properties"].items()
        )
        return "; ".join(p for p in found if p) or None
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"`{name}` is empty; write a value"
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        exclusive = schema.get("exclusiveMinimum") is True
        too_low = low is not None and (value <= low if exclusive else value < low)
        if too_low or (high is not None and value > high):
            return f"`{name}` is {value}; write {wanted} {_range(schema)}"
    return None


def trl_problems(parsed: Iterable[Any]) -> list[str]:
    """The values of the parsed TRL dataclasses (trl.yaml with its command-line overrides)
    outside the CRD's bounds."""
    bounds: Mapping[str, Any] = bounds_table()[TRL_FILE]
    problems = []
    for args in parsed:
        for name, schema in bounds.items():
            if hasattr(args, name) and (found := value_problem(name, getattr(args, name), schema)):
                problems.append(f"{TRL_FILE}: {found}")
    return problems


def settings_problems(settings: Mapping[Any, Any]) -> list[str]:
    """What in the trainer's settings (sftjob.yaml) the operator would never have written."""
    schemas: Mapping[str, Any] = bounds_table()[SETTINGS_FILE]
    problems = []
    for key, value in settings.items():
        if key not in schemas:
            known = ", ".join(schemas)
            problems.append(
                f"{SETTINGS_FILE}: `{key}` is not a trainer setting; the settings are {known}"
            )
        elif found := value_problem(key, value, schemas[key]):
            problems.append(f"{SETTINGS_FILE}: {found}")
    return problems


def lora_problem(written: Iterable[str]) -> str | None:
    """LoRA fields among the keys written (trl.yaml's and the command line's) without
    use_peft, which admission refuses for an SFTJob (spec_policy's rule)."""
    rule = bounds_table()["lora_without_peft"]
    keys = set(written)
    lora = [name for name in rule["fields"] if name in keys]
    if not lora or "use_peft" in keys:
        return None
    return f"{TRL_FILE} sets LoRA fields ({', '.join(lora)}) but not use_peft: {rule['why']}"
