"""Dataset mixtures as alignment-handbook recipes write them, restructured into TRL's form.

Pure. Each function takes the legacy value and the spec block it was written in, writes the
TRL form into `current` (the translated blocks) and returns what it did, to be reported.

- `dataset_mixture: {datasets: [{id, config, split, columns, weight}], seed, test_split_size}`
  becomes `datasetMixture: {datasets: [{path, name, split, columns, weight}], seed,
  test_split_size}`; `weight` and `seed` are extensions (see extensions.py).
- `dataset_mixer: {<id>: <fraction>}` with `dataset_splits: [train_sft, test_sft]` (the older
  handbook) becomes one datasetMixture entry per dataset and training split, the fraction as
  its weight, and one entry per dataset and test split marked `test: true` (kept whole, as
  the handbook kept its test splits); `dataset_configs`, one per dataset, gives their names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sftjob_operator.api.blocks import DATASET_MIXTURE
from sftjob_operator.api.translation import SpecError, Translation, show

Blocks = dict[str, dict[str, Any]]
Restructure = Callable[[Any, Mapping[str, Any], Blocks], list[Translation]]

_MIXTURE = "spec.scriptArgs.dataset_mixture"
_MIXER = "spec.scriptArgs.dataset_mixer"
_SPLITS = "spec.scriptArgs.dataset_splits"
_CONFIGS = "spec.scriptArgs.dataset_configs"
# handbook DatasetConfig key -> TRL DatasetConfig key
_DATASET_KEYS = {"id": "path", "config": "name", "split": "split", "columns": "columns"}
_DEFAULT_SPLITS = ("train", "test")


def _mixture_block(current: Blocks, field: str) -> dict[str, Any]:
    mixture = current[DATASET_MIXTURE]
    if mixture.get("datasets"):
        raise SpecError(
            field,
            "spec.datasetMixture.datasets is set too: write the mixture once, either as "
            f"datasetMixture (TRL's form) or as {field.rsplit('.', 1)[-1]}",
        )
    return mixture


def _handbook_dataset(i: int, entry: Any) -> dict[str, Any]:
    field = f"{_MIXTURE}.datasets[{i}]"
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
        raise SpecError(field, f"must be an object with an id (the dataset), not {show(entry)}")
    unknown = sorted(set(entry) - {*_DATASET_KEYS, "weight"})
    if unknown:
        raise SpecError(
            f"{field}.{unknown[0]}",
            "not a key of an alignment-handbook dataset: write id, config, split, columns "
            "and weight",
        )
    out = {_DATASET_KEYS[k]: v for k, v in entry.items() if k in _DATASET_KEYS and v is not None}
    if entry.get("weight") is not None:
        out["weight"] = entry["weight"]
    return out


def dataset_mixture(value: Any, raw: Mapping[str, Any], current: Blocks) -> list[Translation]:
    if not isinstance(value, Mapping) or not isinstance(value.get("datasets"), list):
        raise SpecError(
            _MIXTURE, "must be an object with a list of datasets: {datasets: [{id: ...}]}"
        )
    mixture = _mixture_block(current, _MIXTURE)
    mixture["datasets"] = [_handbook_dataset(i, d) for i, d in enumerate(value["datasets"])]
    for key in ("seed", "test_split_size"):
        if value.get(key) is not None:
            mixture[key] = value[key]
    weighted = sum(1 for d in mixture["datasets"] if "weight" in d)
    return [
        Translation(
            _MIXTURE,
            "restructured",
            f"{_MIXTURE} was translated to spec.datasetMixture ({len(mixture['datasets'])} "
            f"datasets, {weighted} weighted: each weight keeps int(rows * weight) rows after "
            "a shuffle with the mixture's seed, as the alignment-handbook did)",
        )
    ]


def _splits(raw: Mapping[str, Any]) -> list[str]:
    splits = raw.get("dataset_splits", list(_DEFAULT_SPLITS))
    if not isinstance(splits, list) or not all(isinstance(s, str) for s in splits) or not splits:
        raise SpecError(_SPLITS, f"must be a list of split names, not {show(splits)}")
    return splits


def _configs(raw: Mapping[str, Any], datasets: int) -> list[str | None]:
    """The handbook's dataset_configs: one config name per dataset of the mixer, in order."""
    configs = raw.get("dataset_configs")
    if configs is None:
        return [None] * datasets
    if not isinstance(configs, list) or len(configs) != datasets:
        raise SpecError(
            _CONFIGS,
            f"must list one config name per dataset of dataset_mixer ({datasets}), not "
            f"{show(configs)}",
        )
    return [str(c) for c in configs]


def dataset_mixer(value: Any, raw: Mapping[str, Any], current: Blocks) -> list[Translation]:
    if not isinstance(value, Mapping) or not value:
        raise SpecError(_MIXER, f"must map each dataset to a fraction, not {show(value)}")
    splits = _splits(raw)
    train = [s for s in splits if "train" in s]
    test = [s for s in splits if "train" not in s]
    if not train:
        raise SpecError(_SPLITS, f"{show(splits)} has no training split (a name with 'train')")
    configs = _configs(raw, len(value))
    mixture = _mixture_block(current, _MIXER)
    named = [
        ({"path": path, "name": config} if config is not None else {"path": path}, fraction)
        for (path, fraction), config in zip(value.items(), configs, strict=True)
    ]
    mixture["datasets"] = [
        {**dataset, "split": split, "weight": fraction}
        for dataset, fraction in named
        for split in train
    ] + [{**dataset, "split": split, "test": True} for dataset, _ in named for split in test]
    tested = f"; test split(s) {', '.join(test)} kept whole as evaluation data" if test else ""
    return [
        Translation(
            _MIXER,
            "restructured",
            f"{_MIXER} was translated to spec.datasetMixture.datasets (training split(s) "
            f"{', '.join(train)}, each fraction a weight: int(rows * weight) rows after a "
            f"shuffle with datasetMixture.seed{tested})",
        )
    ]


def _with_mixer(field: str, done: str, instead: str) -> Restructure:
    """A key the older handbook writes beside dataset_mixer, placed by its translation:
    reported as done there, refused without a mixer (`instead` says what to write)."""

    def restructure(value: Any, raw: Mapping[str, Any], current: Blocks) -> list[Translation]:
        if "dataset_mixer" not in raw:
            raise SpecError(field, f"applies only with spec.scriptArgs.dataset_mixer: {instead}")
        message = f"{field} was translated with spec.scriptArgs.dataset_mixer: {done}"
        return [Translation(field, "restructured", message)]

    return restructure


dataset_splits = _with_mixer(
    _SPLITS,
    "each split is a spec.datasetMixture.datasets[].split; splits without 'train' in their "
    "name are marked test: true (evaluation data)",
    "with dataset_name write dataset_train_split, with datasetMixture each dataset's split",
)
dataset_configs = _with_mixer(
    _CONFIGS,
    "each config name is its dataset's spec.datasetMixture.datasets[].name",
    "with dataset_name write dataset_config, with datasetMixture each dataset's name",
)


RESTRUCTURE: Mapping[str, Restructure] = {
    "dataset_mixture": dataset_mixture,
    "dataset_mixer": dataset_mixer,
    "dataset_splits": dataset_splits,
    "dataset_configs": dataset_configs,
}
