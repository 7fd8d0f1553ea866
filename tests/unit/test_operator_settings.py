"""kopf settings: what the operator's watches ask the apiserver for."""

from __future__ import annotations

import kopf
from kopf._cogs.structs.references import Resource
from sftjob_operator.settings import (
    IDLE_WORKER_SECONDS,
    POSTING_IDLE_SECONDS,
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
    # A bounded number of posters stalled every Event behind posts to namespaces being
    # deleted: kopf's default (one poster per object) stays, each letting go at once.
    assert settings.posting.worker_limit is None
    assert settings.posting.idle_timeout == POSTING_IDLE_SECONDS < defaults.posting.idle_timeout
    assert settings.queueing.idle_timeout == IDLE_WORKER_SECONDS < defaults.queueing.idle_timeout


def test_watches_time_out_so_a_silent_stream_is_replaced() -> None:
    """kopf #847, #1120: a watch connection that stops delivering is never noticed unless
    every bound is set; the server ends a watch before the client gives up on it, and a
    stream silent past the inactivity timeout is reconnected."""
    settings = kopf.OperatorSettings()
    configure(settings, Options(inactivity_timeout=8.0))
    watching = settings.watching
    assert watching.server_timeout is not None and watching.client_timeout is not None
    assert watching.server_timeout < watching.client_timeout
    assert watching.connect_timeout is not None and watching.connect_timeout > 0
    assert watching.inactivity_timeout == 8.0
    # The default reconnects before the apiserver forgets the events since the last one.
    assert 60 < Options().inactivity_timeout < 75
