"""The one reading of an SFTJob's cluster side: defaults, and values render must refuse."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.api.spec import (
    DEFAULT_BACKOFF_LIMIT,
    DEFAULT_IMAGE,
    JobSpec,
    read_spec,
)
from sftjob_operator.render import RenderError
from sftjob_operator.render.plan import plan_from


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, JobSpec()),
        (
            {"nodes": None, "gpusPerNode": None, "distributed": None, "image": ""},
            JobSpec(),
        ),
        (
            {"nodes": 2, "gpusPerNode": 0, "backoffLimit": 0, "suspend": True},
            JobSpec(nodes=2, gpus_per_node=0, backoff_limit=0, suspend=True),
        ),
        (
            {"activeDeadlineSeconds": 60, "ttlSecondsAfterFinished": 0},
            JobSpec(active_deadline_seconds=60, ttl_seconds_after_finished=0),
        ),
        (
            {"hubTokenSecretRef": {"name": "hf"}},
            JobSpec(hub_token={"name": "hf", "key": "token"}),
        ),
        (
            {"nodes": 0},
            JobSpec(problems=(("spec.nodes", "0 is not an integer >= 1"),)),
        ),
        (
            {"nodes": True, "gpusPerNode": -1},
            JobSpec(
                problems=(
                    ("spec.nodes", "True is not an integer >= 1"),
                    ("spec.gpusPerNode", "-1 is not an integer >= 0"),
                )
            ),
        ),
    ],
)
def test_read_spec(spec: dict[str, Any], expected: JobSpec) -> None:
    assert read_spec(spec) == expected


def test_the_defaults_are_the_crds() -> None:
    spec = read_spec({})
    assert (spec.nodes, spec.gpus_per_node, spec.distributed) == (1, 1, "auto")
    assert (spec.image, spec.backoff_limit) == (DEFAULT_IMAGE, DEFAULT_BACKOFF_LIMIT)


def test_render_refuses_the_first_value_it_could_not_read() -> None:
    with pytest.raises(RenderError) as err:
        plan_from(read_spec({"nodes": "two", "gpusPerNode": -1}), {})
    assert err.value.field == "spec.nodes"
