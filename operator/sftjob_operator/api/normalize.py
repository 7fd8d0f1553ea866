"""Turn an SFTJob spec into the flat TRL config that the trainer's TrlParser reads.

Pure: no Kubernetes, no torch/trl import. Legacy names and values are translated
according to `legacy.py`; each translation is returned as a `Translation` so the
operator can report it (Warning Events, the ConfigNormalized condition). The spec
itself is never changed.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.blocks import DATASET_MIXTURE, MODEL_CONFIG, SFT_CONFIG, TRL_BLOCKS
from sftjob_operator.api.legacy import (
    SAME,
    VALUE_ALIASES,
    Action,
    LegacyField,
    Target,
    legacy_fields_by_key,
)
from sftjob_operator.api.trl_fields import TrlFields, load_trl_fields


class SpecError(ValueError):
    """A spec the trainer cannot run. `field` is the spec path, `message` what to write instead."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Translation:
    field: str  # the spec path the user wrote, e.g. spec.sftConfig.evaluation_strategy
    action: str  # renamed | value-translated | moved | dropped
    message: str


@dataclass(frozen=True)
class NormalizedConfig:
    trl_config: dict[str, Any]
    translations: tuple[Translation, ...]


# Pairs of boolean fields of which at most one may be true (the CRD has the same rules).
EXCLUSIVE_FLAGS: tuple[tuple[str, str, str], ...] = (
    (SFT_CONFIG, "bf16", "fp16"),
    (MODEL_CONFIG, "load_in_4bit", "load_in_8bit"),
)


def normalize(spec: Mapping[str, Any]) -> NormalizedConfig:
    fields = load_trl_fields()
    blocks = {block: _read_block(spec, block) for block in TRL_BLOCKS}
    current = {block: _known(block, raw, fields) for block, raw in blocks.items()}
    translations: list[Translation] = []
    legacy = legacy_fields_by_key()
    for block, raw in blocks.items():
        for key, value in raw.items():
            if key in fields.kinds[block] or value is None:
                continue
            rec = legacy.get((block, key))
            if rec is None:
                raise SpecError(f"spec.{block}.{key}", _unknown_message(block, key, fields))
            translations.extend(_apply_legacy(rec, value, current))
    translations.extend(_apply_value_aliases(current))
    _check_untyped(current, fields)
    _check_exclusive(current)
    _check_parallelism(spec, current[SFT_CONFIG])
    flat: dict[str, Any] = {}
    for block in TRL_BLOCKS:
        flat.update(current[block])
    return NormalizedConfig(trl_config=flat, translations=tuple(translations))


def _read_block(spec: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    raw = spec.get(block)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"spec.{block}", f"must be an object of TRL fields, not {raw!r}")
    return raw


def _known(block: str, raw: Mapping[str, Any], fields: TrlFields) -> dict[str, Any]:
    return {
        k: copy.deepcopy(v) for k, v in raw.items() if k in fields.kinds[block] and v is not None
    }


def _unknown_message(block: str, key: str, fields: TrlFields) -> str:
    cls = fields.dataclass_names[block]
    owner = fields.block_of(key)
    if owner is not None:
        return f"{key} is not a field of TRL {cls}; move it to spec.{owner}.{key}"
    known = list(fields.kinds[block])
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        f"unknown field: not in TRL {fields.trl_version} {cls} "
        f"(`kubectl explain sftjob.spec.{block}` lists the fields){hint}"
    )


def _show(value: Any) -> str:
    """A value as the user writes it in YAML/JSON (true, not True)."""
    return json.dumps(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _resolve(rec: LegacyField, value: Any) -> tuple[Action, Target | None, Any]:
    if not rec.cases:
        return rec.action, rec.target, value
    for case in rec.cases:
        if _same(case.value, value):
            new = value if case.new_value is SAME else copy.deepcopy(case.new_value)
            return case.action, case.target, new
    return "rejected", None, value


def _apply_legacy(
    rec: LegacyField, value: Any, current: dict[str, dict[str, Any]]
) -> list[Translation]:
    action, target, new = _resolve(rec, value)
    if action == "rejected":
        raise SpecError(rec.dotted, f"{_show(value)} is not supported: {rec.note}")
    if action == "dropped" or target is None:
        return [Translation(rec.dotted, "dropped", f"{rec.dotted} was ignored: {rec.note}")]
    container, key = _container(current, target, rec)
    existing = container.get(key)
    if existing is not None and not _same(existing, new):
        return _conflict(rec, target, existing, new, container, key)
    container[key] = new
    return [Translation(rec.dotted, action, _translated_message(rec, target, value, new))]


def _container(
    current: dict[str, dict[str, Any]], target: Target, rec: LegacyField
) -> tuple[dict[str, Any], str]:
    container = current[target.block]
    for part in target.path[:-1]:
        inner = container.setdefault(part, {})
        if not isinstance(inner, dict):
            raise SpecError(
                rec.dotted,
                f"cannot be merged into spec.{target.block}.{part}, which is not an object: "
                f"{rec.note}",
            )
        container = inner
    return container, target.path[-1]


def _conflict(
    rec: LegacyField,
    target: Target,
    existing: Any,
    new: Any,
    container: dict[str, Any],
    key: str,
) -> list[Translation]:
    if rec.conflict == "replace-zero" and _same(existing, 0):
        container[key] = new
        return [Translation(rec.dotted, rec.action, _translated_message(rec, target, new, new))]
    if rec.conflict in ("replace-zero", "keep-current"):
        return [
            Translation(
                rec.dotted,
                "dropped",
                f"{rec.dotted} was ignored because {target.dotted} is set ({_show(existing)}), as "
                f"older transformers did: {rec.note}",
            )
        ]
    raise SpecError(
        rec.dotted,
        f"conflicts with {target.dotted}: {_show(new)} versus {_show(existing)}. Remove {rec.name} "
        f"(the old name): {rec.note}",
    )


def _translated_message(rec: LegacyField, target: Target, old: Any, new: Any) -> str:
    if _same(old, new):
        return f"{rec.dotted} was translated to {target.dotted}: {rec.note}"
    return f"{rec.dotted}: {_show(old)} was translated to {target.dotted}: {_show(new)}: {rec.note}"


def _apply_value_aliases(current: dict[str, dict[str, Any]]) -> list[Translation]:
    out = []
    for alias in VALUE_ALIASES:
        block = current[alias.block]
        if alias.name not in block or not _same(block[alias.name], alias.old):
            continue
        path = f"spec.{alias.block}.{alias.name}"
        if alias.new is None:
            raise SpecError(path, f"{_show(alias.old)} is not supported: {alias.note}")
        block[alias.name] = alias.new
        out.append(
            Translation(
                path,
                "value-translated",
                f"{path}: {_show(alias.old)} was translated to {_show(alias.new)}: {alias.note}",
            )
        )
    return out


def _check_exclusive(current: dict[str, dict[str, Any]]) -> None:
    for block, a, b in EXCLUSIVE_FLAGS:
        if current[block].get(a) is True and current[block].get(b) is True:
            raise SpecError(
                f"spec.{block}.{b}",
                f"spec.{block}.{a} and spec.{block}.{b} are both true: set at most one of them",
            )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


# Kinds the CRD cannot type-check (see hack/trl_schema.py): (test, what to write).
UNTYPED_KINDS: dict[str, tuple[Any, str]] = {
    "object-or-string": (
        lambda v: isinstance(v, dict | str),
        "an object, or a string (inline JSON or a path to a JSON file in the pod)",
    ),
    "string-or-list": (
        lambda v: isinstance(v, str) or _is_str_list(v),
        "a string or a list of strings",
    ),
    "string-list-or-map": (
        lambda v: (
            isinstance(v, str)
            or _is_str_list(v)
            or (
                isinstance(v, dict)
                and all(isinstance(x, str) or _is_str_list(x) for x in v.values())
            )
        ),
        "a string, a list of strings, or a map from split name to files",
    ),
    "bool-or-string": (lambda v: isinstance(v, bool | str), "a boolean or a string"),
}


def _check_untyped(current: dict[str, dict[str, Any]], fields: TrlFields) -> None:
    for block, values in current.items():
        for name, value in values.items():
            check = UNTYPED_KINDS.get(fields.kinds[block].get(name, ""))
            if check is not None and not check[0](value):
                raise SpecError(f"spec.{block}.{name}", f"must be {check[1]}, not {_show(value)}")
    for i, dataset in enumerate(current[DATASET_MIXTURE].get("datasets") or []):
        files = dataset.get("data_files") if isinstance(dataset, dict) else None
        test, what = UNTYPED_KINDS["string-list-or-map"]
        if files is not None and not test(files):
            raise SpecError(
                f"spec.{DATASET_MIXTURE}.datasets[{i}].data_files",
                f"must be {what}, not {_show(files)}",
            )


def _fsdp_on(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip() not in ("", "false"))


def _check_parallelism(spec: Mapping[str, Any], sft: Mapping[str, Any]) -> None:
    """Rules the CRD cannot express because deepspeed and fsdp are untyped there."""
    deepspeed = sft.get("deepspeed") is not None
    fsdp = _fsdp_on(sft.get("fsdp"))
    gpus = spec.get("gpusPerNode", 1)
    distributed = spec.get("distributed", "auto")
    if deepspeed and fsdp:
        raise SpecError(
            "spec.sftConfig.fsdp",
            "spec.sftConfig.deepspeed and spec.sftConfig.fsdp are both set: choose one",
        )
    for name, on, allowed in (
        ("deepspeed", deepspeed, ("auto", "deepspeed-zero1", "deepspeed-zero2", "deepspeed-zero3")),
        ("fsdp", fsdp, ("auto", "fsdp")),
    ):
        if not on:
            continue
        if gpus == 0:
            raise SpecError(
                f"spec.sftConfig.{name}",
                f"{name} needs GPUs but spec.gpusPerNode is 0: set spec.gpusPerNode >= 1, or "
                f"remove spec.sftConfig.{name} for a CPU job",
            )
        if distributed not in allowed:
            raise SpecError(
                "spec.distributed",
                f"spec.sftConfig.{name} is set, so spec.distributed must be one of "
                f"{', '.join(allowed)}, not {distributed}",
            )
