"""Kueue's Workload of an attempt's Job: read only while Kueue may hold the Job or
spec.suspend asks to deactivate it, and (de)activated for spec.suspend. decide/queue.py
says what it means."""

from __future__ import annotations

import logging
from typing import Any

from sftjob_operator import k8s
from sftjob_operator.decide.suspend import job_finished
from sftjob_operator.status.observe import (
    DEACTIVATED_BY_ANNOTATION,
    JobView,
    WorkloadView,
    workload_view,
)
from sftjob_operator.views import SftView

logger = logging.getLogger(__name__)

WORKLOAD = ("kueue.x-k8s.io/v1beta2", "Workload")
KUEUE_JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"  # Kueue labels a Job's Workload with its uid


def worth_reading(view: SftView, job: JobView | None) -> bool:
    """A queued SFTJob's unfinished Job that Kueue holds suspended, or that spec.suspend
    wants held."""
    if view.queue is None or job is None or not job.uid or job_finished(job):
        return False
    return job.suspended or view.spec.suspend


async def read_workload(api: k8s.Api, view: SftView, job: JobView | None) -> WorkloadView | None:
    if job is None or not worth_reading(view, job):
        return None
    try:
        found = await api.list_labelled(
            *WORKLOAD, view.namespace, f"{KUEUE_JOB_UID_LABEL}={job.uid}"
        )
    except k8s.ApiError as exc:
        logger.warning("reading the Kueue Workload of %s/%s failed: %s", *view.key, exc)
        return None
    return workload_view(found[0]) if found else None


async def set_workload_active(
    api: k8s.Api, view: SftView, workload: str, active: bool, by_suspend: bool = True
) -> None:
    """spec.suspend deactivates the Workload (Kueue would unsuspend a held Job); marked, so
    that resuming re-activates only what the operator deactivated. A finished job's
    Workload is deactivated unmarked: nothing activates it again."""
    why = "spec.suspend" if by_suspend else "the SFTJob has finished"
    logger.info(
        "%s of %s/%s: setting Kueue Workload %s active=%s", why, *view.key, workload, active
    )
    patch: dict[str, Any] = {"spec": {"active": active}}
    if by_suspend:
        patch["metadata"] = {"annotations": {DEACTIVATED_BY_ANNOTATION: None if active else why}}
    await api.patch(*WORKLOAD, view.namespace, workload, patch)


async def stop_by_workload(api: k8s.Api, view: SftView, job: JobView) -> bool:
    """Stop a finished queued job's remaining pods through its Workload: Kueue unsuspends a
    suspended Job whose Workload is admitted, so the Workload is deactivated instead (Kueue
    then evicts it and suspends the Job). False where the Job has no Workload."""
    found = await api.list_labelled(*WORKLOAD, view.namespace, f"{KUEUE_JOB_UID_LABEL}={job.uid}")
    if not found:
        return False
    workload = workload_view(found[0])
    if workload.active:
        await set_workload_active(api, view, workload.name, False, by_suspend=False)
    return True
