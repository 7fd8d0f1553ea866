"""Dataset mixtures as alignment-handbook recipes meant them (an extension of TRL).

The operator writes the weights and test marks into `sftjob.yaml` beside trl.yaml (TRL's
DatasetConfig has neither). A weight keeps `int(rows * weight)` rows of its dataset after a
shuffle with the mixture's seed; a dataset without a weight is kept whole. A dataset marked
test is evaluation data: the test split, not trained on. Each dataset is loaded by TRL's own
`get_dataset`, one at a time, so loading behaves exactly as TRL's mixture does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .bounds import SETTINGS_FILE, settings_problems
from .config_check import ConfigError


def read_settings(trl_config_path: str | Path) -> dict[str, Any]:
    """The trainer's own settings beside trl.yaml; empty when the job has none."""
    path = Path(trl_config_path).with_name(SETTINGS_FILE)
    if not path.is_file():
        return {}
    try:
        settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the trainer settings ({exc})") from None
    if not isinstance(settings, Mapping):
        raise ConfigError(f"{path}: expected a mapping of trainer settings")
    if problems := settings_problems(settings):
        raise ConfigError("; ".join(problems))
    return dict(settings)


def rows_to_keep(rows: int, weight: float | None) -> int:
    """The alignment-handbook's rule: int(rows * weight), every row without a weight."""
    return rows if weight is None else int(rows * weight)


def check_lengths(settings: Mapping[str, Any], datasets: Sequence[Any]) -> None:
    for key in ("dataset_weights", "test_datasets"):
        values = settings.get(key) or []
        if values and len(values) != len(datasets):
            raise ConfigError(
                f"sftjob.yaml: {len(values)} {key} for {len(datasets)} datasets in trl.yaml; "
                "the operator writes both from one spec, so re-create the SFTJob"
            )


def handbook_mixture(dataset_args: Any, settings: Mapping[str, Any]) -> Any:
    """TRL's get_dataset per dataset, each cut to its weight; test datasets apart; then split."""
    import dataclasses

    import datasets
    from trl import get_dataset

    check_lengths(settings, dataset_args.datasets)
    count = len(dataset_args.datasets)
    weights = settings.get("dataset_weights") or [None] * count
    tests = settings.get("test_datasets") or [False] * count
    seed = int(settings.get("mixture_seed", 0))
    train: list[Any] = []
    test: list[Any] = []
    for config, weight, is_test in zip(dataset_args.datasets, weights, tests, strict=True):
        one = dataclasses.replace(dataset_args, datasets=[config], test_split_size=None)
        part = get_dataset(one)["train"]
        if weight is not None:
            part = part.shuffle(seed=seed).select(range(rows_to_keep(len(part), weight)))
        (test if is_test else train).append(part)
    combined = datasets.concatenate_datasets(train)
    if test:
        return datasets.DatasetDict(
            {"train": combined, "test": datasets.concatenate_datasets(test)}
        )
    if dataset_args.test_split_size is not None:
        return combined.train_test_split(test_size=dataset_args.test_split_size, seed=seed)
    return datasets.DatasetDict({"train": combined})
