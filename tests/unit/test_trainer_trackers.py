"""The trainer refuses a report_to tracker that is unknown or not installed in the image."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_trainer.config_check import ConfigError
from sftjob_trainer.trackers import (
    check_trackers,
    installed_integrations,
    requested,
    tracker_problems,
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


def test_the_pinned_trackers_are_installed() -> None:
    check_trackers(["tensorboard", "wandb", "trackio", "mlflow"])


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
