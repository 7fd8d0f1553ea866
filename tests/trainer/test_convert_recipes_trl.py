"""Each recipe of tests/data/recipes, converted by `sftjob convert` and rendered by the operator
into the job's ConfigMap, is read by TRL's own TrlParser into the values the recipe meant.

The reference is TRL itself: the original recipe (or `trl sft` command line) is parsed with
the same TrlParser, and every key of the recipe is compared field by field with the parse of
the rendered trl.yaml: a current TRL field must come out equal; a legacy name must come out
as its translation says (the target of its LEGACY_FIELDS record), or be reported as dropped;
the handbook's dataset mixtures and the inline chat template are checked where the operator
puts them. Imports trl and torch, hence the `trainer` marker; nothing is trained.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from click.testing import CliRunner
from sftjob_cli import accelerate
from sftjob_cli.catalog import ENV_KEY, default_catalog
from sftjob_cli.main import main
from sftjob_cli.sources import COMMAND_SUFFIXES, recipe_from_file
from sftjob_operator.api import parallelism, paths
from sftjob_operator.api.legacy import LEGACY_FIELDS, SAME, LegacyField
from sftjob_operator.api.normalize import normalize
from sftjob_operator.render import render_children

pytestmark = pytest.mark.trainer

ROOT = Path(__file__).resolve().parents[2]
RECIPE_DIR = ROOT / "tests" / "data" / "recipes"
RECIPES = sorted(p for p in RECIPE_DIR.iterdir() if p.is_file())
LEGACY = {rec.name: rec for rec in reversed(LEGACY_FIELDS)}  # the first record of a name wins
CATALOG = default_catalog()
# Keys of the recipe that are the cluster side, not TRL's: checked by tests/unit/test_convert_cli.py.
CLUSTER_SIDE = {ENV_KEY, *accelerate.LAUNCH_KINDS, *accelerate.IGNORED_LAUNCH_ARGS}

Parse = Callable[[list[str]], list[Any]]


@pytest.fixture(scope="module")
def trl_parse() -> Iterator[Parse]:
    """TRL's parser of `trl sft`, on a CPU machine that pretends to have bf16/tf32 GPUs (the
    recipes are written for them; TrainingArguments checks the hardware while parsing)."""
    import transformers.training_args as training_args
    from trl import DatasetMixtureConfig, ModelConfig, ScriptArguments, SFTConfig, TrlParser

    def parse(args: list[str]) -> list[Any]:
        parser = TrlParser((ScriptArguments, SFTConfig, ModelConfig, DatasetMixtureConfig))
        with mock.patch.dict(os.environ):  # TrlParser exports the config's env
            *dataclasses, _remaining = parser.parse_args_and_config(
                args, return_remaining_strings=True, fail_with_unknown_args=False
            )
        return dataclasses

    with (
        mock.patch.object(training_args, "is_torch_bf16_gpu_available", lambda: True),
        mock.patch.object(training_args, "is_torch_tf32_available", lambda: True),
        mock.patch.object(training_args, "enable_tf32", lambda on: None),
    ):
        yield parse


def original_args(path: Path) -> list[str]:
    """What `trl sft` itself would parse for this recipe file."""
    if path.suffix not in COMMAND_SUFFIXES:
        return ["--config", str(path)]
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in text.splitlines():
        tokens = shlex.split(line, comments=True)
        for i in range(len(tokens) - 1):
            if tokens[i : i + 2] == ["trl", "sft"]:
                return tokens[i + 2 :]
    raise AssertionError(f"{path} holds no `trl sft` command")


def converted(path: Path) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(main, ["convert", str(path)])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout), result.stderr


def config_map(manifest: dict[str, Any]) -> dict[str, str]:
    body = {**manifest, "metadata": {**manifest["metadata"], "namespace": "ns", "uid": "uid-1"}}
    normalized = normalize(manifest["spec"])
    children = render_children(body, normalized.trl_config, extensions=normalized.extensions)
    (cm,) = [c for c in children if c["kind"] == "ConfigMap"]
    return dict(cm["data"])


def plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def field_value(dataclasses: list[Any], path: tuple[str, ...]) -> Any:
    owner = next((d for d in dataclasses if hasattr(d, path[0])), None)
    assert owner is not None, f"no TRL dataclass has {path[0]}"
    value = getattr(owner, path[0])
    for part in path[1:]:
        value = value[part]
    return plain(value)


def has_field(dataclasses: list[Any], name: str) -> bool:
    return any(name in getattr(d, "__dataclass_fields__", {}) for d in dataclasses)


def legacy_expected(rec: LegacyField, value: Any) -> tuple[str, tuple[str, ...] | None, Any]:
    """(action, target path or None when dropped, translated value) by the legacy table."""
    for case in rec.cases:
        if case.value == value and type(case.value) is type(value):
            new = value if case.new_value is SAME else case.new_value
            return case.action, case.target.path if case.target else None, new
    assert not rec.cases, f"{rec.name}: {value!r} is no accepted value"
    return rec.action, rec.target.path if rec.target else None, value


def check_mixture(
    key: str, recipe: Mapping[str, Any], mixture: Any, files: Mapping[str, str]
) -> None:
    """The handbook's mixtures: TRL's DatasetMixtureConfig, weights in the trainer's settings."""
    got = [(d.path, d.name, d.split, d.columns) for d in mixture.datasets]
    if key == "dataset_mixture":
        value = recipe[key]
        want = [
            (d["id"], d.get("config"), d.get("split", "train"), d.get("columns"))
            for d in value["datasets"]
        ]
        weights = [d.get("weight") for d in value["datasets"]]
        assert mixture.test_split_size == value.get("test_split_size")
        seed = value.get("seed", 0)
    elif key == "dataset_mixer":
        splits = recipe.get("dataset_splits", ["train", "test"])
        train = [s for s in splits if "train" in s]
        test = [s for s in splits if "train" not in s]
        configs = dict(zip(recipe[key], recipe.get("dataset_configs") or [], strict=False))
        want = [(name, configs.get(name), split, None) for name in recipe[key] for split in train]
        want += [(name, configs.get(name), split, None) for name in recipe[key] for split in test]
        weights = [fraction for fraction in recipe[key].values() for _ in train]
        weights += [None] * (len(want) - len(weights))
        seed = 0
    else:
        return  # dataset_splits and dataset_configs: translated with dataset_mixer
    assert got == want
    settings = yaml.safe_load(files[paths.TRAINER_SETTINGS_FILE])
    tests = [split is not None and "train" not in split for _, _, split, _ in want]
    if key == "dataset_mixture":
        tests = [False] * len(want)
    assert settings == {"dataset_weights": weights, "mixture_seed": seed, "test_datasets": tests}


def is_within(small: Any, big: Any) -> bool:
    """Every key of `small` is in `big` with the same value (nested objects compared so)."""
    if isinstance(small, Mapping):
        return isinstance(big, Mapping) and all(
            k in big and is_within(v, big[k]) for k, v in small.items()
        )
    return bool(small == big)


def check_launch_files(key: str, value: Any, files: Mapping[str, str]) -> None:
    """An inline DeepSpeed/FSDP config reaches the launch's files, the user's keys winning."""
    if key == "deepspeed":
        merged = json.loads(files[paths.DEEPSPEED_CONFIG_FILE])
        assert is_within(value, merged), (value, merged)
        return
    fsdp = yaml.safe_load(files[paths.ACCELERATE_CONFIG_FILE])["fsdp_config"]
    if key == "fsdp_config":
        for name, setting in value.items():
            short = name.removeprefix("fsdp_")
            got = fsdp[parallelism.FSDP_KEYS[short]]
            assert got == (",".join(setting) if isinstance(setting, list) else setting), name


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_trl_reads_the_rendered_config_as_the_recipe_meant(
    path: Path, trl_parse: Parse, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sftjob_trainer.config_check import config_problems, dataclass_field_names

    monkeypatch.chdir(RECIPE_DIR)  # a command line's --config and accelerate file are beside it
    recipe = recipe_from_file(str(path), CATALOG.kind_of).config
    manifest, stderr = converted(path)
    files = config_map(manifest)
    trl_yaml = yaml.safe_load(files[paths.TRL_CONFIG_FILE])
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / paths.TRL_CONFIG_FILE
        config.write_text(files[paths.TRL_CONFIG_FILE])
        ours = trl_parse(["--config", str(config)])
    theirs = trl_parse(original_args(path))
    # no key of trl.yaml is one that TrlParser (fail_with_unknown_args=False) would drop
    assert config_problems(trl_yaml, dataclass_field_names(type(d) for d in ours)) == []

    checked = 0
    for key, value in recipe.items():
        if key in CLUSTER_SIDE:
            continue  # nodes, GPUs, launcher and env: the cluster side
        checked += 1
        if key in parallelism.INLINE_KEYS:  # merged into the launch's files instead
            assert key not in trl_yaml
            check_launch_files(key, value, files)
        elif CATALOG.trl.block_of(key) is not None:
            assert key in trl_yaml, f"{key} is missing from trl.yaml (TRL's default would apply)"
            want = field_value(theirs, (key,))
            if key == "output_dir":  # outputs land on the job's storage
                want = posixpath.normpath(posixpath.join(paths.STORAGE_MOUNT, want))
            assert field_value(ours, (key,)) == want, key
        elif key == "chat_template":  # an extension: a file beside trl.yaml, read by path
            assert files[paths.CHAT_TEMPLATE_FILE] == value
            assert field_value(ours, ("chat_template_path",)) == paths.CHAT_TEMPLATE_PATH
        else:
            rec = LEGACY[key]
            assert f"spec.{rec.block}.{key}" in stderr, f"{key} was not reported"
            action, target, new = legacy_expected(rec, value)
            if action == "restructured":
                mixture = next(d for d in ours if type(d).__name__ == "DatasetMixtureConfig")
                check_mixture(key, recipe, mixture, files)
            elif target is None:
                assert action == "dropped"
                assert not has_field(ours, key), f"{key} is a TRL field but was dropped"
            else:
                assert target[0] in trl_yaml, f"{key}: {target[0]} is missing from trl.yaml"
                assert field_value(ours, target) == plain(new), f"{key} -> {'.'.join(target)}"
    assert checked >= 5
