"""kopf settings: what the operator's watches ask the apiserver for."""

from __future__ import annotations

import kopf
from kopf._cogs.structs.references import Resource
from sftjob_operator.settings import (
    IDLE_WORKER_SECONDS,
    POSTING_IDLE_SECONDS,
    POSTING_WORKERS,
    Options,
    configure,
    label_selector,
)


def test_label_selector_syntax() -> None:
    assert label_selector({"a/b": None, "c": "d"}) == "a/b,c=d"


def _selectors(resource: Resource) -> list[str]:
    settings = kopf.OperatorSettings()
    configure(settings, Options())
    return list(settings.watching.label_selectors.collect(resource))


def test_child_watches_select_the_operators_children_on_the_server() -> None:
    for group, plural, kind in [("batch", "jobs", "Job"), ("", "pods", "Pod")]:
        resource = Resource(group, "v1", plural, kind=kind, namespaced=True)
        assert _selectors(resource) == ["sftjob.dev/job-name"]


def test_the_progress_watch_selects_only_config_maps_that_hold_progress() -> None:
    resource = Resource("", "v1", "configmaps", kind="ConfigMap", namespaced=True)
    assert _selectors(resource) == [
        "sftjob.dev/job-name,sftjob.dev/component=config,sftjob.dev/progress=reported"
    ]


def test_sftjobs_are_watched_whole() -> None:
    resource = Resource("sftjob.dev", "v1alpha1", "sftjobs", kind="SFTJob", namespaced=True)
    assert _selectors(resource) == []


def test_a_burst_neither_opens_a_connection_per_event_nor_keeps_every_body() -> None:
    settings = kopf.OperatorSettings()
    defaults = kopf.OperatorSettings()
    configure(settings, Options())
    assert defaults.posting.worker_limit is None  # kopf: one poster per object
    assert settings.posting.worker_limit == POSTING_WORKERS
    # A poster that idles holds its slot: it must let go at once, or Events trail a burst.
    assert settings.posting.idle_timeout == POSTING_IDLE_SECONDS < defaults.posting.idle_timeout
    assert settings.queueing.idle_timeout == IDLE_WORKER_SECONDS < defaults.queueing.idle_timeout
