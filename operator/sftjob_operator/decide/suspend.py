"""Suspension policy: the Job's spec.suspend follows the SFTJob's, and a finished SFTJob
keeps no running pods.

- spec.suspend true suspends the Job (its pods stop; a resume continues from the newest
  checkpoint), false unsuspends it. A job queued in Kueue (the kueue.x-k8s.io/queue-name
  label) leaves its Job's suspend to Kueue: Kueue unsuspends it on admission, and would
  unsuspend an admitted one the operator suspended; spec.suspend deactivates its Workload
  instead (decide/queue.py).
- Once the SFTJob has finished (a hang guard gave up on straggling ranks, an image cannot
  be pulled, the backoff limit is reached), the Job is suspended if pods are still active.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sftjob_operator.status.observe import JobView
from sftjob_operator.status.phase import FINAL_PHASES

FINISHED_JOB_CONDITIONS = ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget")


def job_finished(job: JobView) -> bool:
    return any(job.condition(t) for t in FINISHED_JOB_CONDITIONS)


def mirrored(status: Mapping[str, Any], job: JobView, suspend: bool, queued: bool) -> bool | None:
    """The Job's spec.suspend as the SFTJob asks for it; None: leave it as it is."""
    if status.get("phase") in FINAL_PHASES or job_finished(job):
        return None
    desired = None if queued else suspend
    return None if desired == job.suspended else desired


def must_stop(status: Mapping[str, Any], job: JobView) -> bool:
    if status.get("phase") not in FINAL_PHASES:
        return False
    return job.active > 0 and not job.suspended and not job_finished(job)
