"""Why a Job has fewer pods than ranks: the apiserver refused the pods its controller
creates (a ResourceQuota, a LimitRange, an admission webhook or policy). The Job
controller says so only in FailedCreate Events on the Job, so they are read while the
current attempt's Job lacks pods, and status/phase.py puts the reason in the status."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sftjob_operator import k8s
from sftjob_operator.decide.suspend import job_finished
from sftjob_operator.status.observe import FAILED_CREATE, JobView, PodView, RefusedPod, refused_pod

logger = logging.getLogger(__name__)


def worth_reading(job: JobView | None, pods: Sequence[PodView], nodes: int) -> bool:
    """An unfinished, unsuspended Job with fewer live pods than ranks."""
    if job is None or not job.uid or job.suspended or job_finished(job):
        return False
    return sum(1 for p in pods if p.phase != "Failed") < nodes


def event_selector(job: JobView) -> str:
    return f"involvedObject.uid={job.uid},reason={FAILED_CREATE}"


async def read_refused_pod(
    api: k8s.Api, namespace: str, job: JobView | None, pods: Sequence[PodView], nodes: int
) -> RefusedPod | None:
    if job is None or not worth_reading(job, pods, nodes):
        return None
    try:
        events = await api.list_by_fields("v1", "Event", namespace, event_selector(job))
    except k8s.ApiError as exc:
        logger.warning("reading the Events of Job %s/%s failed: %s", namespace, job.name, exc)
        return None
    return refused_pod(events, pods)
