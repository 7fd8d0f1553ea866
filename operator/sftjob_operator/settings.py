"""Operator settings: kopf's (finalizer, annotations, watch timeouts, posting) and ours."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import kopf

from sftjob_operator.api.identity import (
    GROUP,
    LABEL_COMPONENT,
    LABEL_JOB_NAME,
    LABEL_PROGRESS,
    PROGRESS_REPORTED,
)
from sftjob_operator.leader.lease import Election
from sftjob_operator.render.configmap import COMPONENT as CONFIG_COMPONENT
from sftjob_operator.status.phase import Policy

# The labels each watched child kind must carry (None: any value). kopf sends them as the
# watch's labelSelector, so the apiserver filters: the operator never receives the other
# Pods, Jobs and ConfigMaps of the cluster, nor a config ConfigMap without progress.
CHILD_LABELS: dict[str, str | None] = {LABEL_JOB_NAME: None}
PROGRESS_LABELS: dict[str, str | None] = {
    LABEL_JOB_NAME: None,
    LABEL_COMPONENT: CONFIG_COMPONENT,
    LABEL_PROGRESS: PROGRESS_REPORTED,
}
POSTING_IDLE_SECONDS = 0.05
# How long kopf keeps an idle per-object worker (and the body it last handled).
IDLE_WORKER_SECONDS = 1.0

WATCH_LABELS: dict[tuple[str, str, str], dict[str, str | None]] = {
    ("batch", "v1", "jobs"): CHILD_LABELS,
    ("", "v1", "pods"): CHILD_LABELS,
    ("", "v1", "configmaps"): PROGRESS_LABELS,
}


def label_selector(labels: dict[str, str | None]) -> str:
    """A Kubernetes label selector: `key` for presence, `key=value` for a value."""
    return ",".join(key if value is None else f"{key}={value}" for key, value in labels.items())


@dataclass(frozen=True)
class Options:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    liveness: str | None = None  # e.g. http://0.0.0.0:8080/healthz
    metrics: str | None = None  # e.g. http://0.0.0.0:8081/metrics
    verbose: bool = False
    policy: Policy = field(default_factory=Policy)
    # At most one progress write per SFTJob per this many seconds.
    progress_interval: float = 3.0
    # Silent watch streams stall kopf operators (kopf #847, #1120): always time out.
    server_timeout: int = 300
    client_timeout: int = 330
    connect_timeout: int = 30
    # Compete for this Lease and reconcile only while holding it (None: always reconcile).
    election: Election | None = None
    # A watch that delivers nothing (not even the apiserver's bookmark, sent about once a
    # minute) for this long is presumed stranded and reconnected; below the 75 s the
    # apiserver keeps recent events for, so the reconnect resumes without a full relist.
    inactivity_timeout: float = 70.0


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff base: only event handlers and indexers are registered, and they never read
    it, while kopf's default deep-copies every object on every event to build one."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def configure(settings: kopf.OperatorSettings, options: Options) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.watching.server_timeout = options.server_timeout
    settings.watching.client_timeout = options.client_timeout
    settings.watching.connect_timeout = options.connect_timeout
    settings.watching.inactivity_timeout = options.inactivity_timeout
    for resource, labels in WATCH_LABELS.items():
        settings.watching.label_selectors[resource] = label_selector(labels)
    settings.watching.reconnect_backoff = 1.0
    settings.networking.request_timeout = 60
    # kopf waits this long for more events of one object before handling it (default 0.1s);
    # our handlers are idempotent, so react fast.
    settings.batching.batch_window = 0.02
    # kopf's own log lines become Events only from WARNING up; ours are posted explicitly.
    settings.posting.level = logging.WARNING
    # A poster idling holds its connection and its object's queue: let go at once.
    settings.posting.idle_timeout = POSTING_IDLE_SECONDS
    settings.execution.max_workers = 4
    # A per-object worker keeps the last raw body it handled until it exits: kopf's default
    # (5 s) kept every body of a burst alive at once. Our handlers keep what they need.
    settings.queueing.idle_timeout = IDLE_WORKER_SECONDS
