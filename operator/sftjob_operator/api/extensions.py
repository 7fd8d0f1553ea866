"""Spec fields that TRL 1.16 does not have but public recipes use, implemented by the operator
and the trainer. They are listed here once: the CRD generator adds them to the schema,
normalize() takes them out of the TRL config, and `sftjob convert` places them.

- `sftConfig.chat_template`: an inline Jinja template (alignment-handbook and open-r1 recipes).
  TRL 1.16 reads templates only from a file (`chat_template_path`), so the operator writes the
  text into the job's ConfigMap and points `chat_template_path` at the mounted file.
- `datasetMixture.datasets[].weight` and `datasetMixture.seed`: alignment-handbook mixture
  weights. A weight keeps `int(len(dataset) * weight)` rows of that dataset, shuffled with the
  mixture's seed, as the handbook did. TRL's own `fraction` keeps TRL's meaning (shares of the
  final mixture); a mixture uses one or the other.
- `datasetMixture.datasets[].test`: this dataset is evaluation data (the older handbook's
  `dataset_splits: [train_sft, test_sft]`): it is kept whole in the test split instead of
  being trained on. TRL's mixture only cuts a test split off the training data
  (`test_split_size`); a mixture uses one or the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sftjob_operator.api.blocks import DATASET_MIXTURE, SFT_CONFIG

# Large enough for every chat template we know of (the longest public ones are ~10 KiB).
CHAT_TEMPLATE_MAX_BYTES: Final = 64 * 1024
DEFAULT_MIXTURE_SEED: Final = 0
WEIGHT_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "number",
    "minimum": 0,
    "exclusiveMinimum": True,
    "maximum": 1,
}


@dataclass(frozen=True)
class ExtensionField:
    block: str
    name: str
    schema: Mapping[str, Any]
    description: str
    item_of: str | None = None  # set for a field of each item of the list `item_of`

    @property
    def dotted(self) -> str:
        inner = f"{self.item_of}[]." if self.item_of else ""
        return f"spec.{self.block}.{inner}{self.name}"


EXTENSION_FIELDS: Final[tuple[ExtensionField, ...]] = (
    ExtensionField(
        SFT_CONFIG,
        "chat_template",
        {"type": "string", "maxLength": CHAT_TEMPLATE_MAX_BYTES},
        "Extension (alignment-handbook, open-r1): an inline Jinja chat template. The operator "
        "writes it into the job's ConfigMap as chat_template.jinja and sets chat_template_path "
        "to that file, which TRL reads. Do not set chat_template_path too.",
    ),
    ExtensionField(
        DATASET_MIXTURE,
        "seed",
        {"type": "integer", "minimum": 0},
        "Extension (alignment-handbook): the seed that shuffles each weighted dataset before "
        f"its rows are taken. Default: {DEFAULT_MIXTURE_SEED}.",
    ),
    ExtensionField(
        DATASET_MIXTURE,
        "weight",
        WEIGHT_SCHEMA,
        "Extension (alignment-handbook): keep int(rows * weight) rows of this dataset, "
        "shuffled with datasetMixture.seed. Unlike TRL's fraction, weights are not shares of "
        "the mixture: 0.5 keeps half of this dataset whatever the others hold.",
        item_of="datasets",
    ),
    ExtensionField(
        DATASET_MIXTURE,
        "test",
        {"type": "boolean"},
        "Extension (alignment-handbook): true makes this dataset evaluation data, kept whole "
        "in the test split instead of being trained on. Not with test_split_size.",
        item_of="datasets",
    ),
)


def extension_fields_of(block: str, item_of: str | None = None) -> tuple[ExtensionField, ...]:
    return tuple(f for f in EXTENSION_FIELDS if f.block == block and f.item_of == item_of)


def _schema_of(name: str, item_of: str | None = None) -> dict[str, Any]:
    (found,) = (f for f in extension_fields_of(DATASET_MIXTURE, item_of) if f.name == name)
    return dict(found.schema)


def trainer_settings_schema() -> dict[str, dict[str, Any]]:
    """The schema of each key of the trainer's settings file (`trainer_settings`), from the
    extension field it carries; hack/gen_crd.py writes it for the trainer, which checks a
    hand-written sftjob.yaml with it."""
    return {
        "dataset_weights": {
            "type": "array",
            "items": {**_schema_of("weight", "datasets"), "nullable": True},
        },
        "mixture_seed": _schema_of("seed"),
        "test_datasets": {"type": "array", "items": _schema_of("test", "datasets")},
    }


@dataclass(frozen=True)
class RecipeExtensions:
    """What the extension fields of one spec ask of the operator and the trainer."""

    chat_template: str | None = None
    dataset_weights: tuple[float | None, ...] = ()
    mixture_seed: int = DEFAULT_MIXTURE_SEED
    test_datasets: tuple[bool, ...] = ()

    @property
    def weighted(self) -> bool:
        return any(w is not None for w in self.dataset_weights)

    @property
    def has_test_datasets(self) -> bool:
        return any(self.test_datasets)

    def trainer_settings(self) -> dict[str, Any]:
        """The trainer's own settings file (sftjob.yaml), empty when nothing is asked of it."""
        if not (self.weighted or self.has_test_datasets):
            return {}
        return {
            "dataset_weights": list(self.dataset_weights),
            "mixture_seed": self.mixture_seed,
            "test_datasets": list(self.test_datasets),
        }
