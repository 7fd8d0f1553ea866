"""Malformed SFTJobs from the generated schema: seeded mutations of a valid spec. Pure.

The schema is the CRD's own openAPIV3Schema (crds/sftjob.yaml, generated from TRL), so every
field the apiserver knows is a mutation site, with the limits it declares. Each mutant
changes one valid base spec in one way, named by its kind:

- wrong-type, out-of-range, too-long, too-many, bad-enum, unknown-field, missing-required:
  what the schema itself should refuse, at the mutated field;
- bad-quantity: resources and storage sizes that are no quantity, or a negative or huge one;
- null: a null where a value belongs (the apiserver drops it, or refuses it);
- garbage: any nested value where the schema keeps unknown fields (valueFrom, data_files,
  affinity, deepspeed, ...), and hostile strings where any string goes;
- pass-through: what the operator passes into the Job unchecked (an env valueFrom,
  affinity, tolerations, volumes, label and annotation keys): the Job's refusal must reach
  status naming the SFTJob's field;
- combination: one to three fields set to values the schema accepts, picked at random, so
  the rules across fields (the admission policy) and the operator's own checks meet
  combinations nobody wrote by hand.
"""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]
UNKNOWN = "x-kubernetes-preserve-unknown-fields"
INT_OR_STRING = "x-kubernetes-int-or-string"
KINDS = (
    "wrong-type",
    "out-of-range",
    "too-long",
    "too-many",
    "bad-enum",
    "bad-quantity",
    "unknown-field",
    "missing-required",
    "null",
    "garbage",
    "pass-through",
    "combination",
)
# Kinds the CRD schema refuses by itself: their refusal must name the mutated field. (A
# quantity's pattern lets "-1Gi" and "1e999" through, so bad-quantity is not among them.)
SCHEMA_KINDS = frozenset(KINDS) - {"null", "garbage", "pass-through", "combination", "bad-quantity"}
HOSTILE_STRINGS = (
    "",
    " ",
    "../../etc/passwd",
    "/dev/null",
    "$(touch /tmp/pwned)",
    "a\nb: c",
    "{{ .Values }}",
    "null",
    "-1",
    "1e999",
    "ünïcødé-名前",
    "\u0000",
    "x" * 300,
)
# Objects core/v1 refuses wherever they stand (a Job's pod template).
BAD_OBJECTS: tuple[dict[str, Any], ...] = (
    {},
    {"operator": "Nope"},
    {"secretKeyRef": "s"},
    {"nodeAffinity": 3},
    {"name": "Bad_Name", "hostPath": {"path": 1}},
    {"name": "nov", "mountPath": "relative"},
    {"fieldRef": {"fieldPath": "spec.nothing"}},
)
VALID_STRINGS = ("x", "trl-lib/Capybara", "Qwen/Qwen2.5-0.5B", "train", "a-b", "0", "true")
TYPE_SAMPLES: dict[str, Any] = {
    "string": "fuzz",
    "integer": 7,
    "number": 0.5,
    "boolean": True,
    "object": {"fuzz": 1},
    "array": [1, "two"],
}


@dataclass(frozen=True)
class Site:
    """A field of the schema: where it is in a spec, and its schema."""

    path: Path
    schema: Mapping[str, Any]
    required: bool


@dataclass(frozen=True)
class Mutant:
    index: int
    kind: str
    paths: tuple[str, ...]  # the mutated fields, as the apiserver writes them
    spec: dict[str, Any]


def dotted(path: Path) -> str:
    out = "spec"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def sites(schema: Mapping[str, Any], path: Path = ()) -> Iterator[Site]:
    """Every field under `schema` (the spec's), lists at index 0, maps at key 'k'."""
    required = set(schema.get("required") or ())
    for name, sub in (schema.get("properties") or {}).items():
        here = (*path, name)
        yield Site(here, sub, name in required)
        yield from _children(sub, here)


def _children(schema: Mapping[str, Any], path: Path) -> Iterator[Site]:
    if "properties" in schema:
        yield from sites(schema, path)
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield Site((*path, 0), items, False)
        yield from _children(items, (*path, 0))
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield Site((*path, "k"), extra, False)
        yield from _children(extra, (*path, "k"))


def put(spec: dict[str, Any], path: Path, value: Any) -> None:
    """Set `path` in `spec`, making the objects and lists on the way."""
    node: Any = spec
    for part, after in itertools.pairwise(path):
        empty: Any = [] if isinstance(after, int) else {}
        if isinstance(part, int):
            while len(node) <= part:
                node.append(copy.deepcopy(empty))
            if not isinstance(node[part], (list, dict)):
                node[part] = empty
        elif not isinstance(node.get(part), (list, dict)):
            node[part] = empty
        node = node[part]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def remove(spec: dict[str, Any], path: Path) -> None:
    node: Any = spec
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


def valid_value(schema: Mapping[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """A value the schema accepts (the policy and the operator may still refuse it)."""
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if schema.get(INT_OR_STRING):
        return rng.choice([1, 2, "1Gi", "500m", "2"])
    kind = schema.get("type")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "integer":
        low = int(schema.get("minimum", -2))
        high = int(schema.get("maximum", low + 100))
        return rng.randint(low, min(high, low + 100))
    if kind == "number":
        low = float(schema.get("minimum", -1.0))
        return round(rng.uniform(low, float(schema.get("maximum", low + 10.0))), 4)
    if kind == "string":
        return rng.choice(VALID_STRINGS)[: int(schema.get("maxLength", 64))]
    if kind == "array" and isinstance(schema.get("items"), Mapping) and depth < 3:
        return [valid_value(schema["items"], rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if kind == "object" and "properties" in schema and depth < 3:
        props = schema["properties"]
        out = {
            name: valid_value(props[name], rng, depth + 1) for name in schema.get("required") or ()
        }
        if props and rng.random() < 0.7:
            name = rng.choice(sorted(props))
            out[name] = valid_value(props[name], rng, depth + 1)
        return out
    if kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        return {"k": valid_value(schema["additionalProperties"], rng, depth + 1)}
    return garbage(rng, depth)


def garbage(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, nested a little."""
    pick = rng.randrange(7 if depth < 3 else 5)
    if pick == 0:
        return rng.choice(HOSTILE_STRINGS)
    if pick == 1:
        return rng.choice([0, -1, 2**31, 2**63 - 1, -(2**53)])
    if pick == 2:
        return rng.choice([0.0, -0.5, 1e300, 3.25])
    if pick == 3:
        return rng.random() < 0.5
    if pick == 4:
        return rng.choice(VALID_STRINGS)
    if pick == 5:
        return [garbage(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ("name", "key", "secretKeyRef", "stage", "zero_optimization", "x", "")
    return {rng.choice(keys): garbage(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _applicable(kind: str, site: Site) -> bool:
    s = site.schema
    typed = "type" in s and not s.get(INT_OR_STRING)
    checks = {
        "wrong-type": typed,
        "out-of-range": "minimum" in s or "maximum" in s,
        "too-long": "maxLength" in s or s.get("minLength", 0) > 0,
        "too-many": "maxItems" in s or "maxProperties" in s,
        "bad-enum": "enum" in s,
        "bad-quantity": bool(s.get(INT_OR_STRING)) and "pattern" in s,
        "unknown-field": s.get("type") == "object" and "properties" in s and not s.get(UNKNOWN),
        "missing-required": site.required,
        "null": True,
        "garbage": bool(s.get(UNKNOWN)) or "type" not in s or s.get("type") == "string",
        "pass-through": site.path[0] in ("env", "podTemplate")
        and (bool(s.get(UNKNOWN)) or isinstance(s.get("additionalProperties"), Mapping)),
        "combination": True,
    }
    return checks[kind]


def _wrong_type(schema: Mapping[str, Any], rng: random.Random) -> Any:
    own = schema["type"]
    accepted = {own, "integer"} if own == "number" else {own}
    return TYPE_SAMPLES[rng.choice(sorted(set(TYPE_SAMPLES) - accepted))]


def _out_of_range(schema: Mapping[str, Any], rng: random.Random) -> Any:
    ends = []
    if "minimum" in schema:
        ends.append(schema["minimum"] - (0 if schema.get("exclusiveMinimum") else 1))
    if "maximum" in schema:
        ends.append(schema["maximum"] + (0 if schema.get("exclusiveMaximum") else 1))
    return rng.choice(ends)


def _too_long(schema: Mapping[str, Any], rng: random.Random) -> Any:
    if "maxLength" in schema and (schema.get("minLength", 0) == 0 or rng.random() < 0.5):
        return "y" * (int(schema["maxLength"]) + 1)
    return ""


def _too_many(schema: Mapping[str, Any], rng: random.Random) -> Any:
    if "maxItems" in schema:
        item = valid_value(schema.get("items") or {}, rng)
        return [copy.deepcopy(item) for _ in range(int(schema["maxItems"]) + 1)]
    extra = schema.get("additionalProperties") or {"type": "string"}
    return {f"k{i}": valid_value(extra, rng) for i in range(int(schema["maxProperties"]) + 1)}


def _mutate_one(kind: str, site: Site, spec: dict[str, Any], rng: random.Random) -> None:
    s = site.schema
    if kind == "missing-required":
        put(spec, site.path, valid_value(s, rng))  # the parent exists...
        remove(spec, site.path)  # ...without this field
        return
    if kind == "unknown-field":
        value: Any = {"fuzzUnknownField": garbage(rng)}
    elif kind == "null":
        value = None
    elif kind == "garbage":
        value = garbage(rng) if s.get(UNKNOWN) or "type" not in s else rng.choice(HOSTILE_STRINGS)
    elif kind == "pass-through":
        value = {"bad key!": "v"} if "additionalProperties" in s else rng.choice(BAD_OBJECTS)
    elif kind == "bad-enum":
        value = rng.choice(["fuzz-" + str(rng.randrange(1000)), "", "AUTO", " auto"])
    elif kind == "bad-quantity":
        value = rng.choice(["12 GiB", "-1Gi", "one", "1e999", "0x10", ""])
    else:
        value = {
            "wrong-type": _wrong_type,
            "out-of-range": _out_of_range,
            "too-long": _too_long,
            "too-many": _too_many,
        }[kind](s, rng)
    put(spec, site.path, value)


def mutant(
    index: int, base: Mapping[str, Any], schema: Mapping[str, Any], rng: random.Random
) -> Mutant:
    """One mutant of `base` (a valid spec); `schema` is the spec's openAPIV3Schema."""
    all_sites = list(sites(schema))
    kind = rng.choice(KINDS)
    spec = copy.deepcopy(dict(base))
    if kind == "combination":
        chosen = rng.sample(all_sites, rng.randint(1, 3))
        for site in chosen:
            put(spec, site.path, valid_value(site.schema, rng))
        return Mutant(index, kind, tuple(dotted(s.path) for s in chosen), spec)
    site = rng.choice([s for s in all_sites if _applicable(kind, s)])
    _mutate_one(kind, site, spec, rng)
    return Mutant(index, kind, (dotted(site.path),), spec)


def mutants(
    count: int, seed: int, base: Mapping[str, Any], schema: Mapping[str, Any]
) -> list[Mutant]:
    rng = random.Random(seed)
    return [mutant(i, base, schema, rng) for i in range(count)]
