"""Turn an SFTJob spec into the flat TRL config that the trainer's TrlParser reads.

Pure: no Kubernetes, no torch/trl import. Legacy names and values are translated
according to `legacy.py`; each translation is returned as a `Translation` so the
operator can report it (Warning Events, the ConfigNormalized condition). The spec
itself is never changed.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_operator.api import extensions as ext
from sftjob_operator.api import parallelism
from sftjob_operator.api.blocks import DATASET_MIXTURE, MODEL_CONFIG, SFT_CONFIG, TRL_BLOCKS
from sftjob_operator.api.legacy import (
    PARTLY_READ,
    SAME,
    VALUE_ALIASES,
    Action,
    LegacyField,
    Target,
    legacy_fields_by_key,
)
from sftjob_operator.api.paths import CHAT_TEMPLATE_FILE, CHAT_TEMPLATE_PATH, resolve_output_dir
from sftjob_operator.api.recipe_forms import RESTRUCTURE
from sftjob_operator.api.spec import JobSpec, read_spec
from sftjob_operator.api.translation import SpecError, Translation
from sftjob_operator.api.translation import show as _show
from sftjob_operator.api.trl_fields import TrlFields, load_trl_fields

__all__ = [
    "NormalizedConfig",
    "SpecError",
    "TranslatedSpec",
    "Translation",
    "normalize",
    "translate_spec",
]


@dataclass(frozen=True)
class TranslatedSpec:
    """The four TRL blocks with every legacy name translated; extension fields kept in place."""

    blocks: dict[str, dict[str, Any]]
    translations: tuple[Translation, ...]


@dataclass(frozen=True)
class NormalizedConfig:
    trl_config: dict[str, Any]
    translations: tuple[Translation, ...]
    extensions: ext.RecipeExtensions = field(default_factory=ext.RecipeExtensions)


# Pairs of boolean fields of which at most one may be true (the CRD has the same rules).
EXCLUSIVE_FLAGS: tuple[tuple[str, str, str], ...] = (
    (SFT_CONFIG, "bf16", "fp16"),
    (MODEL_CONFIG, "load_in_4bit", "load_in_8bit"),
)


def translate_spec(spec: Mapping[str, Any]) -> TranslatedSpec:
    fields = load_trl_fields()
    blocks = {block: _read_block(spec, block) for block in TRL_BLOCKS}
    current = {block: _known(block, raw, fields) for block, raw in blocks.items()}
    translations: list[Translation] = []
    legacy = legacy_fields_by_key()
    for block, raw in blocks.items():
        for key, value in raw.items():
            if _is_current(block, key, fields) or value is None:
                continue
            rec = legacy.get((block, key))
            if rec is None:
                raise SpecError(f"spec.{block}.{key}", _unknown_message(block, key, fields))
            translations.extend(_apply_legacy(rec, value, raw, current))
    translations.extend(_apply_value_aliases(current))
    translations.extend(_drop_unread_keys(current))
    return TranslatedSpec(current, tuple(translations))


def normalize(spec: Mapping[str, Any], cluster: JobSpec | None = None) -> NormalizedConfig:
    """`cluster` is the spec's cluster side as read already (read_spec), if the caller has it."""
    translated = translate_spec(spec)
    current = translated.blocks
    extensions, taken = _take_extensions(current)
    _check_untyped(current, load_trl_fields())
    _check_exclusive(current)
    _check_weights(current[DATASET_MIXTURE], extensions)
    flat: dict[str, Any] = {}
    for block in TRL_BLOCKS:
        flat.update(current[block])
    parallelism.check_spec(cluster or read_spec(spec), flat)
    flat["output_dir"] = resolve_output_dir(flat.get("output_dir"))
    if extensions.chat_template is not None:
        flat["chat_template_path"] = CHAT_TEMPLATE_PATH
    return NormalizedConfig(
        trl_config=flat,
        translations=translated.translations + taken,
        extensions=extensions,
    )


def _is_current(block: str, key: str, fields: TrlFields) -> bool:
    return key in fields.kinds[block] or any(f.name == key for f in ext.extension_fields_of(block))


def _read_block(spec: Mapping[str, Any], block: str) -> Mapping[str, Any]:
    raw = spec.get(block)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SpecError(f"spec.{block}", f"must be an object of TRL fields, not {raw!r}")
    return raw


def _known(block: str, raw: Mapping[str, Any], fields: TrlFields) -> dict[str, Any]:
    """The block's current fields; a null only where it means something to TRL."""
    nullable = fields.nullable.get(block, frozenset())
    return {
        k: copy.deepcopy(v)
        for k, v in raw.items()
        if _is_current(block, k, fields) and (v is not None or k in nullable)
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
    rec: LegacyField, value: Any, raw: Mapping[str, Any], current: dict[str, dict[str, Any]]
) -> list[Translation]:
    if rec.action == "restructured":
        return RESTRUCTURE[rec.name](value, raw, current)
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


def _take_extensions(
    current: dict[str, dict[str, Any]],
) -> tuple[ext.RecipeExtensions, tuple[Translation, ...]]:
    """Take the extension fields out of the blocks: TRL's dataclasses would refuse them."""
    sft, mixture = current[SFT_CONFIG], current[DATASET_MIXTURE]
    template = sft.pop("chat_template", None)
    seed = mixture.pop("seed", ext.DEFAULT_MIXTURE_SEED)
    datasets = [d for d in mixture.get("datasets") or () if isinstance(d, dict)]
    weights = tuple(d.pop("weight", None) for d in datasets)
    tests = tuple(bool(d.pop("test", False)) for d in datasets)
    taken: list[Translation] = []
    if template is not None:
        field_ = f"spec.{SFT_CONFIG}.chat_template"
        if sft.get("chat_template_path") is not None:
            raise SpecError(
                field_,
                "spec.sftConfig.chat_template_path is set too: write the template once, inline "
                "as chat_template or as a file with chat_template_path",
            )
        if not isinstance(template, str):
            raise SpecError(field_, f"must be a Jinja template string, not {_show(template)}")
        taken.append(
            Translation(
                field_,
                "moved",
                f"{field_} ({len(template)} characters) was written to the job's ConfigMap as "
                f"{CHAT_TEMPLATE_FILE}, and spec.sftConfig.chat_template_path points at it: "
                "TRL 1.16 reads a chat template from a file",
            )
        )
    return ext.RecipeExtensions(template, weights, seed, tests), tuple(taken)


def _check_weights(mixture: Mapping[str, Any], extensions: ext.RecipeExtensions) -> None:
    if extensions.has_test_datasets and mixture.get("test_split_size") is not None:
        raise SpecError(
            f"spec.{DATASET_MIXTURE}.test_split_size",
            "datasets marked test: true are the test split already: remove test_split_size, "
            "or the test marks",
        )
    if extensions.has_test_datasets and all(extensions.test_datasets):
        raise SpecError(
            f"spec.{DATASET_MIXTURE}.datasets",
            "every dataset is marked test: true, so nothing is left to train on",
        )
    if not (extensions.weighted or extensions.has_test_datasets):
        return
    datasets = mixture.get("datasets") or []
    if any(isinstance(d, dict) and d.get("fraction") is not None for d in datasets):
        raise SpecError(
            f"spec.{DATASET_MIXTURE}.datasets",
            "mixes weight (the alignment-handbook's rows to keep) and fraction (TRL's share of "
            "the mixture): use one of them for every dataset",
        )
    if mixture.get("streaming"):
        raise SpecError(
            f"spec.{DATASET_MIXTURE}.streaming",
            "weights need the row count of each dataset, which a streamed dataset does not "
            "have: remove streaming or the weights",
        )


def _drop_unread_keys(current: dict[str, dict[str, Any]]) -> list[Translation]:
    """Keys of a dict field that TRL would read and then ignore."""
    out = []
    for rec in PARTLY_READ:
        value = current[rec.block].get(rec.name)
        if not isinstance(value, dict):
            continue
        for key in sorted(set(value) - rec.read):
            del value[key]
            path = f"spec.{rec.block}.{rec.name}.{key}"
            out.append(Translation(path, "dropped", f"{path} was ignored: {rec.note}"))
        if not value:
            del current[rec.block][rec.name]
    return out
