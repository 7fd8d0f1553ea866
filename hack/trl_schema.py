"""Map TRL/transformers dataclass fields to OpenAPI v3 (structural) schemas.

One function per kind of field type. `classify()` turns a Python type annotation
into a kind; `schema_for_field()` picks the builder for that kind and adds the
field's help text as the description.

The apiserver's structural-schema rules shape two choices here:
- A node must have a `type`, unless it sets x-kubernetes-int-or-string or
  x-kubernetes-preserve-unknown-fields. `anyOf` may not carry types, so a field
  that takes "an object or a string" is untyped (preserve-unknown-fields) and a
  CEL rule checks the JSON type of the value.
- CEL cost is estimated from maxLength/maxItems/maxProperties, so every string,
  list and map has a bound.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Schema = dict[str, Any]

MAX_STRING = 4096
MAX_ITEMS = 256
MAX_PROPERTIES = 256
DESCRIPTION_LIMIT = 480


class UnsupportedType(TypeError):
    """A field type that no builder maps; the generator must exclude or override the field."""


# ---- builders: one per kind ------------------------------------------------------------


def bool_schema() -> Schema:
    return {"type": "boolean"}


def int_schema() -> Schema:
    return {"type": "integer"}


def number_schema() -> Schema:
    return {"type": "number"}


def string_schema() -> Schema:
    return {"type": "string", "maxLength": MAX_STRING}


def enum_schema(values: Sequence[str]) -> Schema:
    """A closed set of strings (a transformers Enum or TRL `choices`)."""
    return {"type": "string", "enum": list(values)}


def string_list_schema() -> Schema:
    return {"type": "array", "maxItems": MAX_ITEMS, "items": string_schema()}


def bool_map_schema() -> Schema:
    """dict[str, bool], e.g. liger_kernel_config."""
    return {
        "type": "object",
        "maxProperties": MAX_PROPERTIES,
        "additionalProperties": bool_schema(),
    }


def object_schema() -> Schema:
    """A free-form dict (dict[str, Any])."""
    return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def untyped_schema() -> Schema:
    """Any JSON value. The apiserver cannot type-check a union of object/list and string:
    a structural schema forbids types inside anyOf, and CEL cannot see untyped nodes
    (neither their own rules nor the parent's). normalize() checks these kinds instead."""
    return {"x-kubernetes-preserve-unknown-fields": True}


def object_or_string_schema() -> Schema:
    """dict | str: an inline object, or a JSON string / path to a JSON file."""
    return untyped_schema()


def string_or_list_schema() -> Schema:
    """str | list[str], e.g. report_to: none or report_to: [wandb, tensorboard]."""
    return untyped_schema()


def string_list_or_map_schema() -> Schema:
    """str | list[str] | dict[str, str], e.g. DatasetConfig.data_files."""
    return untyped_schema()


def int_or_string_schema() -> Schema:
    """int | str, e.g. pad_to_multiple_of: 8 or 'auto'."""
    return {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }


def bool_or_string_schema() -> Schema:
    """bool | str, e.g. fsdp: true, or include_num_input_tokens_seen: non_padding."""
    return untyped_schema()


def dataclass_list_schema(item_cls: type, describe: Callable[[type, str], str]) -> Schema:
    """list[SomeDataclass], e.g. DatasetMixtureConfig.datasets: list[DatasetConfig]."""
    return {
        "type": "array",
        "maxItems": MAX_ITEMS,
        "items": dataclass_object_schema(item_cls, describe),
    }


def dataclass_object_schema(cls: type, describe: Callable[[type, str], str]) -> Schema:
    hints = typing.get_type_hints(cls)
    props: Schema = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        props[f.name] = schema_for_field(f, hints[f.name], describe(cls, f.name))
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    out: Schema = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


# ---- classification --------------------------------------------------------------------

BUILDERS: dict[str, Callable[[], Schema]] = {
    "bool": bool_schema,
    "int": int_schema,
    "number": number_schema,
    "string": string_schema,
    "string-list": string_list_schema,
    "bool-map": bool_map_schema,
    "object": object_schema,
    "object-or-string": object_or_string_schema,
    "string-or-list": string_or_list_schema,
    "string-list-or-map": string_list_or_map_schema,
    "int-or-string": int_or_string_schema,
    "bool-or-string": bool_or_string_schema,
}


def _members(tp: Any) -> list[Any]:
    """The non-None members of a (possibly Optional) union, or [tp]."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_list_of(tp: Any, pred: Callable[[Any], bool]) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is list and len(args) == 1 and pred(args[0])


def _is_str_list(tp: Any) -> bool:
    return _is_list_of(tp, lambda a: a is str or _is_enum(a))


def _is_dict(tp: Any) -> bool:
    return tp is dict or typing.get_origin(tp) is dict


def _is_literal_false(tp: Any) -> bool:
    return typing.get_origin(tp) is typing.Literal and typing.get_args(tp) == (False,)


def classify(tp: Any) -> str:
    """Kind of a field's type annotation (Enums report 'enum', dataclass lists 'dataclass-list')."""
    members = _members(tp)
    if len(members) == 1:
        return _classify_single(members[0])
    kinds = frozenset(_classify_member(m) for m in members)
    combos: dict[frozenset[str], str] = {
        frozenset({"enum", "string"}): "enum",
        frozenset({"object", "string"}): "object-or-string",
        frozenset({"string", "string-list"}): "string-or-list",
        frozenset({"string", "string-list", "object"}): "string-list-or-map",
        frozenset({"int", "string"}): "int-or-string",
        frozenset({"bool", "string"}): "bool-or-string",
    }
    if kinds in combos:
        return combos[kinds]
    raise UnsupportedType(f"no schema for union {tp!r}")


def _classify_member(tp: Any) -> str:
    if _is_literal_false(tp):
        return "bool"
    return _classify_single(tp)


def _classify_single(tp: Any) -> str:
    if tp is bool:
        return "bool"
    if tp is int:
        return "int"
    if tp is float:
        return "number"
    if tp is str:
        return "string"
    if _is_enum(tp):
        return "enum"
    if _is_str_list(tp):
        return "string-list"
    if _is_list_of(tp, dataclasses.is_dataclass):
        return "dataclass-list"
    if _is_dict(tp):
        args = typing.get_args(tp)
        return "bool-map" if len(args) == 2 and args[1] is bool else "object"
    raise UnsupportedType(f"no schema for type {tp!r}")


def enum_class(tp: Any) -> type[enum.Enum]:
    for m in _members(tp):
        if _is_enum(m):
            return typing.cast(type[enum.Enum], m)
    raise UnsupportedType(f"{tp!r} has no Enum member")


def dataclass_item(tp: Any) -> type:
    for m in _members(tp):
        if _is_list_of(m, dataclasses.is_dataclass):
            return typing.cast(type, typing.get_args(m)[0])
    raise UnsupportedType(f"{tp!r} is not a list of dataclasses")


# ---- descriptions ----------------------------------------------------------------------


def summarize(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """First paragraph of a help text, whitespace collapsed, cut at a sentence within limit."""
    text = text.replace("%%", "%")
    first = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    flat = " ".join(first.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = cut.rfind(". ")
    if end >= limit // 3:
        return cut[: end + 1]
    return cut.rsplit(" ", 1)[0] + " ..."


_DOC_PARAM = re.compile(r"^\s{4,}(\w+) \(`[^`]*`.*\):\s*$")


def docstring_params(cls: type) -> dict[str, str]:
    """Parameter descriptions from a TRL-style docstring (`name (`type`, *optional*):` blocks)."""
    out: dict[str, str] = {}
    current: str | None = None
    for line in (cls.__doc__ or "").splitlines():
        m = _DOC_PARAM.match(line)
        if m:
            current = m.group(1)
            out[current] = ""
        elif current is not None:
            if not line.strip() or line.strip().startswith(">"):
                if out[current]:
                    current = None
                continue
            out[current] = (out[current] + " " + line.strip()).strip()
    return out


def format_default(f: dataclasses.Field[Any]) -> str:
    """' Default: `x`.' for scalar defaults, '' otherwise."""
    value = f.default
    if value is dataclasses.MISSING or value is None:
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return f" Default: `{str(value).lower()}`."
    if isinstance(value, int | float | str) and value != "":
        return f" Default: `{value}`."
    return ""


# ---- fields ----------------------------------------------------------------------------


# Appended to the description of fields whose type the apiserver cannot check.
KIND_HINTS = {
    "object-or-string": "An object, or a string (inline JSON, or a path to a JSON file in the pod).",
    "string-or-list": "A string or a list of strings.",
    "string-list-or-map": "A string, a list of strings, or a map from split name to files.",
    "bool-or-string": "A boolean or a string.",
}


def schema_for_kind(kind: str, tp: Any, f: dataclasses.Field[Any]) -> Schema:
    choices = f.metadata.get("choices")
    if choices is not None and kind in ("string", "enum"):
        return enum_schema([str(c) for c in choices])
    if kind == "enum":
        return enum_schema([str(m.value) for m in enum_class(tp)])
    if kind == "dataclass-list":
        return dataclass_list_schema(dataclass_item(tp), _describe_from_docstring)
    return BUILDERS[kind]()


def schema_for_field(
    f: dataclasses.Field[Any],
    tp: Any,
    description: str,
    kind: str | None = None,
) -> Schema:
    """The schema of one dataclass field; `kind` overrides the annotation's kind."""
    schema = schema_for_kind(kind or classify(tp), tp, f)
    hint = KIND_HINTS.get(kind or classify(tp), "")
    text = " ".join(p for p in (summarize(description), hint, format_default(f).strip()) if p)
    if text:
        schema = {"description": text, **schema}
    return schema


def help_text(cls: type, f: dataclasses.Field[Any], docs: Mapping[str, str]) -> str:
    return str(f.metadata.get("help") or docs.get(f.name, ""))


def _describe_from_docstring(cls: type, name: str) -> str:
    return docstring_params(cls).get(name, "")
