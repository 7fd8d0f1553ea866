"""The CRD's OpenAPI schema checks (types, enums, bounds, lengths, required fields), with the
apiserver's messages.

The apiserver validates a custom resource with kube-openapi, a JSON Schema draft 4
validator; here jsonschema's Draft4Validator does the same checks. Each error becomes the
field error the apiextensions-apiserver makes of it, e.g.
`spec.nodes: Invalid value: 0: spec.nodes in body should be greater than or equal to 1`.
Two structural-schema notes: an x-kubernetes-int-or-string field has the types
`integer,string` (its anyOf says the same), and the schema's x-kubernetes-* keys are not
JSON Schema (they are checked in structural.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

import jsonschema

from sftjob_cli.structural import Schema, go_float, show

_BLOCKING = ("type", "enum", "required", "maxLength", "maxItems", "maxProperties")
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string"}
_TYPE_NAMES.update({list: "array", dict: "object", type(None): "null"})
_SUBSCHEMAS = ("items", "additionalProperties", "anyOf", "allOf", "oneOf", "not")
# Annotations; `format` (int32, int64, ...) is checked by the apiserver only for its range.
_NOT_CHECKED = ("default", "description", "format", "example", "nullable")


def _draft4(schema: Any) -> Any:
    """The schema as JSON Schema draft 4: int-or-string typed, x-kubernetes-* keys left out."""
    if isinstance(schema, list):
        return [_draft4(s) for s in schema]
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key in _NOT_CHECKED:
            continue
        if key == "properties":
            out[key] = {name: _draft4(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMAS and isinstance(value, Mapping | list):
            out[key] = _draft4(value)
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@cache
def _validator(schema_json: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(_draft4(json.loads(schema_json)))


def schema_errors(obj: Any, schema: Schema) -> tuple[list[str], bool]:
    """The field errors, and whether one of them stops the CEL rules (as the apiserver's do)."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    found: list[str] = []
    blocking = False
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path))):
        found += _field_errors(err)
        blocking = blocking or err.validator in _BLOCKING
    return list(dict.fromkeys(found)), blocking


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _bound(err: jsonschema.ValidationError, word: str) -> str:
    exclusive = err.schema.get(f"exclusive{word.capitalize()}", False)
    limit = err.validator_value
    shown = go_float(float(limit)) if isinstance(err.instance, float) else str(int(limit))
    if word == "maximum":
        return f"should be less than {'' if exclusive else 'or equal to '}{shown}"
    return f"should be greater than {'' if exclusive else 'or equal to '}{shown}"


def _invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {show(value)}: {path} in body {detail}"


def _field_errors(err: jsonschema.ValidationError) -> list[str]:
    path, value, limit = _path(err.absolute_path), err.instance, err.validator_value
    handler = _HANDLERS.get(str(err.validator))
    if handler is not None:
        return handler(path, value, limit, err)
    return [f"{path}: Invalid value: {show(value)}: {err.message}"]


def _required(path: str, value: Any, limit: Any, _err: Any) -> list[str]:
    return [
        f"{path + '.' if path else ''}{key}: Required value" for key in limit if key not in value
    ]


def _enum(path: str, value: Any, limit: Any, _err: Any) -> list[str]:
    quoted = (v if isinstance(v, str) else json.dumps(v) for v in limit)
    allowed = ", ".join(json.dumps(v, ensure_ascii=False) for v in quoted)
    return [f"{path}: Unsupported value: {show(value)}: supported values: {allowed}"]


def _type(path: str, value: Any, limit: Any, _err: Any) -> list[str]:
    expected = ",".join(limit) if isinstance(limit, list) else limit
    actual = _type_name(value)
    return [_invalid(path, actual, f"must be of type {expected}: {json.dumps(actual)}")]


def _too_many(path: str, value: Any, limit: Any, _err: Any) -> list[str]:
    """maxItems and maxProperties: the count, not the value."""
    word = "item" if limit == 1 else "items"
    return [f"{path}: Too many: {len(value)}: must have at most {limit} {word}"]


def _max_length(path: str, _value: Any, limit: Any, _err: Any) -> list[str]:
    return [f"{path}: Too long: may not be more than {limit} {'byte' if limit == 1 else 'bytes'}"]


def _handlers() -> dict[str, Callable[[str, Any, Any, Any], list[str]]]:
    return {
        "required": _required,
        "enum": _enum,
        "type": _type,
        "maxItems": _too_many,
        "maxProperties": _too_many,
        "maxLength": _max_length,
        "minLength": lambda p, v, lim, _e: [_invalid(p, v, f"should be at least {lim} chars long")],
        "pattern": lambda p, v, lim, _e: [_invalid(p, v, f"should match '{lim}'")],
        "minimum": lambda p, v, _lim, e: [_invalid(p, v, _bound(e, "minimum"))],
        "maximum": lambda p, v, _lim, e: [_invalid(p, v, _bound(e, "maximum"))],
        "minItems": lambda p, v, lim, _e: [_invalid(p, v, f"should have at least {lim} items")],
    }


_HANDLERS = _handlers()
