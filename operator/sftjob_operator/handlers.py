"""kopf handlers. Each is a few lines: look up, call the reconciler, done.

- SFTJob events: create the children of the current attempt once, mirror spec.suspend
  to the Job, refresh status.
- child Job and pod events (label sftjob.dev/job-name): refresh the owner's status
  (a failed attempt is restarted there).
- config ConfigMap events (component=config, and labelled by the trainer with its first
  progress record): copy the validated record into status.progress, coalesced per job.
- SFTJob deletion: nothing to do (garbage collection removes children); forget memory.
  No finalizer, no kopf annotations: only event handlers are registered.
"""

from __future__ import annotations

from typing import Any

import kopf
from aiohttp import web

from sftjob_operator import k8s, metrics_server, preflight
from sftjob_operator.api.identity import GROUP, PLURAL, VERSION
from sftjob_operator.metrics import exposition
from sftjob_operator.reconcile import Reconciler
from sftjob_operator.settings import CHILD_LABELS, PROGRESS_LABELS, Options, configure
from sftjob_operator.status.observe import JobView, PodView, job_view, owner_job_name, pod_view
from sftjob_operator.status.progress import PROGRESS_KEY
from sftjob_operator.views import Indexes, Key, SftView, sft_view

OPTIONS = Options()  # replaced by the CLI before kopf starts
_state: dict[str, Reconciler] = {}
_servers: list[web.AppRunner] = []


def _label_filter(labels: dict[str, str | None]) -> dict[str, Any]:
    """The handler's filter for labels the watch already selects server-side (kopf checks
    again on its side)."""
    return {key: kopf.PRESENT if value is None else value for key, value in labels.items()}


CHILD = _label_filter(CHILD_LABELS)
PROGRESS = _label_filter(PROGRESS_LABELS)


def reconciler(
    sftjobs_index: kopf.Index[Key, SftView],
    jobs_index: kopf.Index[Key, JobView],
    pods_index: kopf.Index[Key, PodView],
) -> Reconciler:
    rec = _state["reconciler"]
    if not rec.indexed:  # kopf hands every handler the same index objects
        rec.indexed = True
        rec.indexes = Indexes(
            sftjobs=lambda key: next(iter(sftjobs_index.get(key, ())), None),
            jobs=lambda key: list(jobs_index.get(key, ())),
            pods=lambda key: list(pods_index.get(key, ())),
            all_sftjobs=lambda: [view for store in sftjobs_index.values() for view in store],
        )
    return rec


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    configure(settings, OPTIONS)
    api = await k8s.Api.connect()
    try:
        await preflight.check_policies(api)
    except RuntimeError as exc:
        await api.close()
        raise kopf.PermanentError(str(exc)) from exc
    rec = Reconciler(api, OPTIONS.policy, progress_interval=OPTIONS.progress_interval)
    _state["reconciler"] = rec
    if OPTIONS.metrics:
        _servers.append(
            await metrics_server.serve(
                OPTIONS.metrics, lambda: exposition(rec.job_samples(), rec.counters())
            )
        )


@kopf.on.cleanup()
async def cleanup(logger: kopf.Logger, **_: Any) -> None:
    while _servers:
        await _servers.pop().cleanup()
    if rec := _state.pop("reconciler", None):
        logger.info("API writes by resource: %s", dict(rec.api.writes))
        await rec.api.close()


# -- in-memory indexes (compact views, not whole bodies) ---------------------------
# async, because kopf runs sync handlers in a thread pool: a hop per event.


@kopf.index(GROUP, VERSION, PLURAL)
async def sftjobs_index(body: kopf.Body, namespace: str | None, name: str, **_: Any) -> Any:
    return {(namespace or "", name): sft_view(body)}


@kopf.index("batch", "v1", "jobs", labels=CHILD)
async def jobs_index(body: kopf.Body, namespace: str | None, **_: Any) -> Any:
    return {(namespace, owner_job_name(body)): job_view(body)}


@kopf.index("", "v1", "pods", labels=CHILD)
async def pods_index(body: kopf.Body, namespace: str | None, **_: Any) -> Any:
    return {(namespace, owner_job_name(body)): pod_view(body)}


# -- the SFTJob ---------------------------------------------------------------------


# Level-triggered on every event (the initial listing included), so kopf writes no
# bookkeeping annotation on the SFTJob: one API write fewer per job.
@kopf.on.event(GROUP, VERSION, PLURAL)
async def sftjob_event(
    body: kopf.Body, namespace: str | None, name: str, type: str | None, **kwargs: Any
) -> None:
    rec = _rec(kwargs)
    if type == "DELETED":
        rec.forget((namespace or "", name))  # garbage collection removes the children
    else:
        await rec.reconcile(body)


# -- children -------------------------------------------------------------------------


@kopf.on.event("batch", "v1", "jobs", labels=CHILD)
async def job_event(body: kopf.Body, namespace: str | None, **kwargs: Any) -> None:
    if owner := owner_job_name(body):
        rec = _rec(kwargs)
        await rec.mirror_suspend((namespace or "", owner))
        rec.request_refresh((namespace or "", owner))


@kopf.on.event("", "v1", "pods", labels=CHILD)
async def pod_event(body: kopf.Body, namespace: str | None, **kwargs: Any) -> None:
    if owner := owner_job_name(body):
        _rec(kwargs).request_refresh((namespace or "", owner))


@kopf.on.event("", "v1", "configmaps", labels=PROGRESS)
async def progress_event(
    body: kopf.Body, namespace: str | None, type: str | None, **kwargs: Any
) -> None:
    if type != "DELETED" and (owner := owner_job_name(body)):
        data = body.get("data") or {}
        _rec(kwargs).on_progress((namespace or "", owner), data.get(PROGRESS_KEY))


def _rec(kwargs: dict[str, Any]) -> Reconciler:
    return reconciler(kwargs["sftjobs_index"], kwargs["jobs_index"], kwargs["pods_index"])
