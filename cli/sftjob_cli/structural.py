"""What the apiserver does with a custom resource's structural schema besides validating it.

Pure functions over the CRD's openAPIV3Schema, each following the apiextensions-apiserver:
- `unknown_fields`: the fields pruning would drop, which strict field validation (kubectl's
  default) refuses as `unknown field "spec.gpus"`;
- `with_defaults`: nulls of non-nullable fields dropped, then `default`s filled in;
- `rule_errors`: the CRD's own x-kubernetes-validations (CEL), on each field that is set.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from sftjob_cli.celeval import evaluate

Schema = Mapping[str, Any]

# The fields of ObjectMeta that a client may send (the apiserver keeps no others).
OBJECT_META_FIELDS = frozenset(
    (
        *("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"),
        *("generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"),
        *("labels", "annotations", "ownerReferences", "finalizers", "managedFields"),
    )
)
ROOT_FIELDS = ("apiVersion", "kind", "metadata")


def _keeps_unknown(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))


def _children(value: Any, schema: Schema, path: str) -> Iterator[tuple[Any, Schema, str, str]]:
    """(value, schema, pruning path, field path) of each child that has a schema."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                yield item, props[key], _join(path, key), _join(path, key)
            elif isinstance(extra, Mapping):
                yield item, extra, _join(path, key), f"{path}[{key}]"
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            yield item, schema["items"], f"{path}[{i}]", f"{path}[{i}]"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def unknown_fields(value: Any, schema: Schema, path: str = "") -> list[str]:
    """The paths of the fields the schema does not declare, as the apiserver names them."""
    found: list[str] = []
    if isinstance(value, dict) and not path:
        meta = value.get("metadata")
        if isinstance(meta, dict):
            found += [f"metadata.{k}" for k in meta if k not in OBJECT_META_FIELDS]
    if isinstance(value, dict) and not _keeps_unknown(schema):
        declared = schema.get("properties", {})
        if "additionalProperties" not in schema:
            root = ROOT_FIELDS if not path else ()
            found += [_join(path, k) for k in value if k not in declared and k not in root]
    for item, sub, child, _field in _children(value, schema, path):
        if not (child == "metadata" and not path):
            found += unknown_fields(item, sub, child)
    return found


def with_defaults(value: Any, schema: Schema) -> Any:
    """A copy with the nulls of non-nullable properties removed and the defaults applied."""
    if isinstance(value, list):
        items = schema.get("items")
        return [with_defaults(v, items) for v in value] if isinstance(items, Mapping) else value
    if not isinstance(value, dict):
        return value
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    out = {}
    for key, item in value.items():
        sub = props.get(key)
        if sub is not None and item is None and not sub.get("nullable"):
            continue
        sub = sub if sub is not None else extra
        out[key] = with_defaults(item, sub) if isinstance(sub, Mapping) else item
    for key, sub in props.items():
        if key not in out and "default" in sub:
            out[key] = with_defaults(copy.deepcopy(sub["default"]), sub)
    return out


def rule_errors(value: Any, schema: Schema, path: str = "") -> list[str]:
    """The x-kubernetes-validations that fail, in the apiserver's words.

    Transition rules (those that read oldSelf) are left out: they need the stored object,
    field by field, and the SFTJob CRD has none (its update rules are in the policy)."""
    found: list[str] = []
    for rule in schema.get("x-kubernetes-validations", ()):
        if "oldSelf" not in rule["rule"]:
            found += _rule_error(rule, value, schema, path)
    for item, sub, _child, field in _children(value, schema, path):
        found += rule_errors(item, sub, field)
    return found


def _rule_error(rule: Schema, value: Any, schema: Schema, path: str) -> list[str]:
    field_path = str(rule.get("fieldPath", "")).lstrip(".")
    where = _join(path, field_path) if field_path else path or "<nil>"  # <nil>: the root
    outcome = evaluate(rule["rule"], {"self": value})
    if outcome.error is not None:
        return [
            f"{where}: Invalid value: {show_type(schema)}: {outcome.error} evaluating rule: "
            f"{rule['rule']}"
        ]
    if outcome.value is True:
        return []
    message = rule.get("message") or f"failed rule: {rule['rule']}"
    if rule.get("messageExpression"):
        computed = evaluate(rule["messageExpression"], {"self": value})
        if isinstance(computed.value, str) and computed.value.strip():
            message = computed.value
    reason = rule.get("reason", "FieldValueInvalid")
    if reason == "FieldValueForbidden":
        return [f"{where}: Forbidden: {message}"]
    if reason == "FieldValueRequired":
        return [f"{where}: Required value: {message}"]
    shown = "" if schema.get("type") in ("object", "array") else f" {show(value)}:"
    if reason == "FieldValueDuplicate":
        return [f"{where}: Duplicate value:{shown.rstrip(':')}"]
    return [f"{where}: Invalid value:{shown} {message}"]


def show_type(schema: Schema) -> str:
    return json.dumps(schema.get("type", ""))


def show(value: Any) -> str:
    """A bad value as the apiserver prints it (Go's %v for numbers and booleans, %q for strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def go_float(value: float) -> str:
    """Go's %v of a float64: the shortest digits, with an exponent below 1e-4 and from 1e6."""
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exponent)  # digits before the decimal point
    if -4 < point <= 6:
        whole, frac = (text[:point], text[point:]) if point > 0 else ("0", "0" * -point + text)
        body = whole.ljust(point, "0") + ("." + frac if frac else "")
    else:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{point - 1:+03d}"
    return ("-" if sign else "") + body
