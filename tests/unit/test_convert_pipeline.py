"""What convert does to the placed blocks beyond the operator's own translation."""

from __future__ import annotations

from sftjob_cli.pipeline import drop_shadowed_dataset_name


def test_a_recipe_with_a_mixture_and_a_dataset_name_keeps_the_mixture() -> None:
    """TRL trains on the mixture and ignores dataset_name (open-r1's VL agent recipe)."""
    blocks = {
        "scriptArgs": {"dataset_name": "smolagents/aguvis-stage-2", "dataset_train_split": "t"},
        "datasetMixture": {"datasets": [{"path": "a"}]},
    }
    (note,) = drop_shadowed_dataset_name(blocks)
    assert blocks["scriptArgs"] == {"dataset_train_split": "t"}
    assert note.startswith("dropped: spec.scriptArgs.dataset_name (smolagents/aguvis-stage-2)")
    assert drop_shadowed_dataset_name({"scriptArgs": {"dataset_name": "d"}}) == ()
