"""The CRD's bounds, checked by the trainer for a trl.yaml or sftjob.yaml written by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from sftjob_operator.api import extensions, paths
from sftjob_operator.api.blocks import DATASET_MIXTURE, TRL_BLOCKS
from sftjob_operator.api.extensions import RecipeExtensions
from sftjob_trainer.bounds import bounds_table, settings_problems, trl_problems, value_problem
from sftjob_trainer.config_check import ConfigError
from sftjob_trainer.mixture import read_settings

WEIGHT = bounds_table()[paths.TRAINER_SETTINGS_FILE]["dataset_weights"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([0.5, None, 1], None),
        ([1.5], "`w[0]` is 1.5; write a number above 0 and up to 1"),
        ([0.2, 0], "`w[1]` is 0; write a number above 0 and up to 1"),
        ([-0.1], "`w[0]` is -0.1; write a number above 0 and up to 1"),
        ([True], "`w[0]` is true; write a number"),
        (["half"], '`w[0]` is "half"; write a number'),
        (0.5, "`w` is 0.5; write a list"),
        (None, "`w` is null; write a list"),
    ],
)
def test_a_weight_outside_the_crds_bounds_is_named_with_what_to_write(
    value: Any, problem: str | None
) -> None:
    assert value_problem("w", value, WEIGHT) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (1, None),
        (None, None),  # the field's own default (no limit): the schema has no type
        (0, "`n` is 0; write an integer of 1 or more"),
        (-3, "`n` is -3; write an integer of 1 or more"),
        ("", "`n` is empty; write a value"),
        ("x", None),
    ],
)
def test_a_trl_fields_bounds(value: Any, problem: str | None) -> None:
    assert value_problem("n", value, {"minimum": 1, "minLength": 1}) == problem


def test_a_required_field_that_is_not_set_is_named() -> None:
    assert trl_problems([SimpleNamespace(model_name_or_path=None)]) == [
        "trl.yaml: `model_name_or_path` is not set, and it is required"
    ]


def test_the_parsed_trl_values_are_checked_with_the_crds_bounds() -> None:
    training = SimpleNamespace(per_device_train_batch_size=0, max_length=None, seed=-1)
    model = SimpleNamespace(model_name_or_path="")
    assert trl_problems([training, model]) == [
        "trl.yaml: `per_device_train_batch_size` is 0; write an integer of 1 or more",
        "trl.yaml: `model_name_or_path` is empty; write a value",
    ]


def test_the_trainers_bounds_are_the_crds() -> None:
    crd = yaml.safe_load(Path("crds/sftjob.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    fields = {name: schema for block in TRL_BLOCKS for name, schema in _props(spec, block).items()}
    table = bounds_table()
    for name, bounds in table[paths.TRL_CONFIG_FILE].items():
        crd_bounds = {k: v for k, v in bounds.items() if k != "required"}
        assert _within(crd_bounds, fields[name]), name
    required = {
        name for block in TRL_BLOCKS for name in spec["properties"][block].get("required", [])
    }
    assert {n for n, b in table[paths.TRL_CONFIG_FILE].items() if b.get("required")} == required
    mixture = _props(spec, DATASET_MIXTURE)
    item = mixture["datasets"]["items"]["properties"]
    settings = table[paths.TRAINER_SETTINGS_FILE]
    assert {k: v for k, v in settings["dataset_weights"]["items"].items() if k != "nullable"} == {
        k: v for k, v in item["weight"].items() if k != "description"
    }
    assert settings["mixture_seed"].items() <= mixture["seed"].items()


def _within(bounds: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Every bound is in the schema, those of list items and their fields included."""
    return all(
        _within(v, schema.get(k, {})) if isinstance(v, dict) else schema.get(k, not v) == v
        for k, v in bounds.items()
    )


def test_a_bound_on_the_items_of_a_mixture_is_checked_on_each() -> None:
    from trl.scripts.utils import DatasetConfig

    mixture = SimpleNamespace(
        datasets=[DatasetConfig(path="a", fraction=0.8), DatasetConfig(path="b", fraction=-0.2)]
    )
    assert trl_problems([mixture]) == [
        "trl.yaml: `datasets[1].fraction` is -0.2; write a number of 0 or more"
    ]
    # before TRL parses them: mappings; and what is neither is left to the mixture's check
    assert trl_problems([SimpleNamespace(datasets=[{"fraction": -1}, "x"])]) == [
        "trl.yaml: `datasets[0].fraction` is -1; write an integer of 0 or more"
    ]


def _props(spec: dict[str, Any], block: str) -> dict[str, Any]:
    props: dict[str, Any] = spec["properties"][block]["properties"]
    return props


def test_what_the_operator_writes_the_trainer_accepts() -> None:
    written = RecipeExtensions(
        dataset_weights=(0.5, None, 1.0), mixture_seed=7, test_datasets=(False, False, True)
    ).trainer_settings()
    assert written.keys() == extensions.trainer_settings_schema().keys()
    assert settings_problems(written) == []


def test_a_hand_written_settings_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "sftjob.yaml").write_text(
        "dataset_weights: [1.5, null]\nmixture_seed: -1\ntest_datasets: [true, 3]\nseed: 1\n"
    )
    with pytest.raises(ConfigError) as err:
        read_settings(tmp_path / "trl.yaml")
    assert str(err.value) == (
        "sftjob.yaml: `dataset_weights[0]` is 1.5; write a number above 0 and up to 1; "
        "sftjob.yaml: `mixture_seed` is -1; write an integer of 0 or more; "
        "sftjob.yaml: `test_datasets[1]` is 3; write true or false; "
        "sftjob.yaml: `seed` is not a trainer setting; the settings are dataset_weights, "
        "mixture_seed, test_datasets"
    )


def test_a_hand_written_trl_yaml_out_of_bounds_is_a_config_error(tmp_path: Path) -> None:
    from sftjob_trainer.train import parse

    config = tmp_path / "trl.yaml"
    config.write_text(
        "model_name_or_path: m\ndataset_name: d\nuse_cpu: true\n"
        "per_device_train_batch_size: 0\nmax_length: '-3'\n"
    )
    with pytest.raises(ConfigError) as err:
        parse(str(config), [])
    assert str(err.value) == (
        "trl.yaml: `max_length` is -3; write an integer of 1 or more; "
        "trl.yaml: `per_device_train_batch_size` is 0; write an integer of 1 or more"
    )
    assert parse(str(config), ["--per_device_train_batch_size", "2", "--max_length", "8"])
    # a LoRA field on the command line is written too
    with pytest.raises(ConfigError, match=r"sets LoRA fields \(lora_alpha\) but not use_peft"):
        parse(str(config), ["--per_device_train_batch_size=2", "--max_length=8", "--lora_alpha=8"])
    assert parse(str(config), ["--per_device_train_batch_size=2", "--max_length=8",
                               "--lora_alpha=8", "--use_peft"])  # fmt: skip


def test_lora_fields_without_use_peft_are_refused_as_admission_refuses_them() -> None:
    from sftjob_operator.admission.spec_policy import LORA_WITHOUT_PEFT, lora_fields
    from sftjob_trainer.bounds import lora_problem

    assert lora_problem(["model_name_or_path", "lora_r", "lora_target_modules"]) == (
        "trl.yaml sets LoRA fields (lora_r, lora_target_modules) but not use_peft: "
        + LORA_WITHOUT_PEFT
    )
    assert lora_problem(["lora_r", "use_peft"]) is None  # true, or false on purpose
    assert lora_problem(["use_dora"]) is not None
    assert lora_problem(["model_name_or_path"]) is None
    assert bounds_table()["lora_without_peft"]["fields"] == lora_fields()
