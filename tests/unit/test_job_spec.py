"""The one reading of an SFTJob's cluster side: defaults, and values render must refuse."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.api.spec import (
    DEFAULT_BACKOFF_LIMIT,
    DEFAULT_IMAGE,
    JobSpec,
    RestartBackoff,
    Watchdog,
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
            {"restartBackoff": {"initialSeconds": 0}, "terminationGracePeriodSeconds": 120},
            JobSpec(
                restart_backoff=RestartBackoff(initial_seconds=0, max_seconds=300),
                termination_grace_period_seconds=120,
            ),
        ),
        (
            {"watchdog": {"progressDeadlineSeconds": 600, "failOnStall": True}},
            JobSpec(watchdog=Watchdog(progress_deadline_seconds=600, fail_on_stall=True)),
        ),
        (
            {"restartBackoff": {"maxSeconds": -1}, "watchdog": {"progressDeadlineSeconds": 0}},
            JobSpec(
                problems=(
                    ("spec.restartBackoff.maxSeconds", "-1 is not an integer >= 0"),
                    ("spec.watchdog.progressDeadlineSeconds", "0 is not an integer >= 1"),
                )
            ),
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


def test_the_crd_declares_the_restart_backoff_defaults_from_here() -> None:
    from crd_cluster import cluster_spec_properties

    fields = cluster_spec_properties()["restartBackoff"]["properties"]
    defaults = RestartBackoff()
    assert fields["initialSeconds"]["default"] == defaults.initial_seconds
    assert fields["maxSeconds"]["default"] == defaults.max_seconds
