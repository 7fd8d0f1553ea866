"""The trainer refuses a report_to tracker that is unknown or not installed in the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.config_check import ConfigError
from sftjob_trainer.trackers import (
    check_trackers,
    installed_integrations,
    requested,
    tracker_problems,
    wandb_credentials_problem,
)


@pytest.mark.parametrize(
    ("report_to", "names"),
    [
        (None, []),
        ("none", []),
        ("all", []),
        (["none"], []),
        (["all"], []),
        ("tensorboard", ["tensorboard"]),
        (["tensorboard", "wandb"], ["tensorboard", "wandb"]),
        ([], []),
    ],
)
def test_requested(report_to: Any, names: list[str]) -> None:
    assert requested(report_to) == names


KNOWN = ["comet_ml", "mlflow", "tensorboard", "wandb"]


def test_installed_trackers_pass() -> None:
    assert tracker_problems(["tensorboard", "wandb"], KNOWN, {"tensorboard", "wandb"}) == []
    assert tracker_problems("all", KNOWN, set()) == []


def test_a_missing_tracker_names_it_and_the_fix() -> None:
    (problem,) = tracker_problems(["tensorboard", "comet_ml"], KNOWN, {"tensorboard", "wandb"})
    assert "`comet_ml` is not installed" in problem
    assert "installed: tensorboard, wandb" in problem
    assert "report_to: [tensorboard]" in problem and "image with comet_ml" in problem


def test_an_unknown_name_lists_the_accepted_ones() -> None:
    (problem,) = tracker_problems("tensorbord", KNOWN, {"tensorboard"})
    assert "`tensorbord` is not a transformers integration" in problem
    assert "all, none, comet_ml, mlflow, tensorboard, wandb" in problem


def test_the_pinned_trackers_are_installed(tmp_path: Path) -> None:
    trackers = ["tensorboard", "wandb", "trackio", "mlflow"]
    check_trackers(trackers, {"WANDB_MODE": "offline"}, tmp_path)


def test_check_trackers_refuses_one_this_environment_lacks() -> None:
    missing = next(
        (
            n
            for n in ("comet_ml", "clearml", "swanlab", "dvclive")
            if n not in installed_integrations()
        ),
        None,
    )
    if missing is None:
        pytest.skip("every candidate tracker is installed here")
    with pytest.raises(ConfigError, match=f"`{missing}` is not installed"):
        check_trackers(missing)


@pytest.mark.parametrize(
    ("environ", "files", "refused"),
    [
        ({}, [], True),
        ({"WANDB_MODE": "online"}, [], True),
        ({"WANDB_API_KEY": ""}, [], True),
        ({"WANDB_API_KEY": "k"}, [], False),
        ({"WANDB_IDENTITY_TOKEN_FILE": "/var/run/token"}, [], False),
        ({"WANDB_MODE": "offline"}, [], False),
        ({"WANDB_MODE": "Disabled"}, [], False),
        ({}, [".netrc"], False),
        ({}, [".config/wandb/settings"], False),
        ({"NETRC": "{home}/mounted/netrc"}, [".netrc"], True),  # NETRC replaces ~/.netrc
        ({"NETRC": "{home}/mounted/netrc"}, ["mounted/netrc"], False),
        ({"WANDB_CONFIG_DIR": "{home}/cfg"}, ["cfg/settings"], False),
    ],
)
def test_wandb_without_credentials_is_refused(
    tmp_path: Path, environ: dict[str, str], files: list[str], refused: bool
) -> None:
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("machine api.wandb.ai\n")
    env = {k: v.format(home=tmp_path) for k, v in environ.items()}
    problem = wandb_credentials_problem(["tensorboard", "wandb"], env, tmp_path)
    assert (problem is not None) is refused
    assert wandb_credentials_problem(["tensorboard"], env, tmp_path) is None


def test_check_trackers_names_the_wandb_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        check_trackers(["wandb"], {}, tmp_path)
    assert str(err.value) == (
        "trl.yaml: report_to `wandb` needs a W&B API key, and the trainer has none "
        "(no WANDB_API_KEY, no .netrc): add WANDB_API_KEY to spec.env from a Secret "
        "(`valueFrom: {secretKeyRef: {name: <secret>, key: <key>}}`), or set "
        "WANDB_MODE=offline to keep the run on the job's storage only"
    )
