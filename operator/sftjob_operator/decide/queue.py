"""Kueue admission policy: a queued SFTJob's Job and Kueue Workload -> its phase while Kueue
holds it, the Admitted condition, and the Workload's spec.active. Pure.

- An SFTJob with the label kueue.x-k8s.io/queue-name gets a suspended Job with that label.
  Kueue's batch/v1 Job integration makes one Workload of it, every rank in one pod set,
  and admits it whole by unsuspending the Job (gang admission); at admission it may add
  the flavor's nodeSelector and tolerations to the pod template, which the operator never
  touches.
- While Kueue keeps the Job suspended the phase is Queued, with Kueue's reason (Pending,
  Inadmissible, QuotaReserved...) and a message that names the LocalQueue and says what
  Kueue said. After an eviction by preemption it is Preempted until Kueue admits it again.
  Neither is a failure: the Job is suspended, not failed, so no restart is started and
  spec.backoffLimit is not used up; the next admission resumes from the newest checkpoint.
- spec.suspend of a queued SFTJob deactivates its Workload (spec.active false): Kueue
  evicts it, releases its quota and suspends the Job. Only suspending the Job would not
  do: Kueue unsuspends the Job of an admitted Workload. Resuming reactivates the Workload,
  which queues again. A user's suspend is the Suspended phase, not Queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sftjob_operator.decide.model import Condition
from sftjob_operator.decide.suspend import job_finished
from sftjob_operator.status import conditions as cond
from sftjob_operator.status import timeutil
from sftjob_operator.status.observe import JobView, WorkloadView
from sftjob_operator.status.phase import PREEMPTED, QUEUED, Derived

# Kueue's Workload condition types and the eviction reason of a preemption.
QUOTA_RESERVED = "QuotaReserved"
ADMITTED = "Admitted"
EVICTED = "Evicted"
PREEMPTED_CONDITION = "Preempted"
REQUEUED = "Requeued"
BY_PREEMPTION = "Preempted"
# How often a queued job's Workload is read again, for Kueue's current reason (no event
# says that it changed: the operator watches no Workloads), and soon after its Job was
# created, when Kueue has not yet made the Workload (later, e.g. without Kueue installed,
# as seldom as the reason).
RECHECK_SECONDS = 30.0
NO_WORKLOAD_RECHECK_SECONDS = 2.0


def holds(queue: str | None, job: JobView | None, user_suspended: bool) -> bool:
    """Kueue, not the user, keeps this job's Job suspended."""
    return (
        queue is not None
        and job is not None
        and job.suspended
        and not user_suspended
        and not job_finished(job)
    )


def _preemption(workload: WorkloadView) -> str | None:
    """Kueue's message, if the Workload's last eviction was a preemption."""
    for type_ in (EVICTED, REQUEUED):
        found = workload.condition(type_)
        if found and found[0] == BY_PREEMPTION:
            return found[1]
    found = workload.condition(PREEMPTED_CONDITION)
    return found[1] if found else None


def derive(
    queue: str | None,
    job: JobView | None,
    workload: WorkloadView | None,
    user_suspended: bool,
    now: datetime | None = None,
) -> Derived | None:
    """The phase while Kueue holds the job; None when it does not (another rule decides)."""
    if not holds(queue, job, user_suspended):
        return None
    where = f"LocalQueue {queue}"
    if workload is None:
        created = timeutil.parse(job.created) if job and job.created else None
        young = now is None or created is None or (now - created).total_seconds() < RECHECK_SECONDS
        return Derived(
            QUEUED,
            "WaitingForWorkload",
            f"queued in {where}; waiting for Kueue to create the Workload",
            recheck_after=NO_WORKLOAD_RECHECK_SECONDS if young else RECHECK_SECONDS,
        )
    if workload.condition(ADMITTED):
        target = f"ClusterQueue {workload.cluster_queue}" if workload.cluster_queue else where
        return Derived(QUEUED, ADMITTED, f"admitted by Kueue to {target}; starting the pods")
    if reserved := workload.condition(QUOTA_RESERVED):
        return Derived(
            QUEUED,
            QUOTA_RESERVED,
            f"quota reserved in {where}; waiting for admission checks: {reserved[1]}".rstrip(": "),
            recheck_after=RECHECK_SECONDS,
        )
    if (preempted := _preemption(workload)) is not None:
        return Derived(
            PREEMPTED,
            BY_PREEMPTION,
            f"preempted by Kueue ({preempted or 'a higher-priority workload'}); requeued in "
            f"{where}, resumes from the newest checkpoint when admitted again",
            recheck_after=RECHECK_SECONDS,
        )
    reason, message = workload.false_condition(QUOTA_RESERVED) or ("Pending", "")
    detail = f": {message}" if message else ""
    return Derived(
        QUEUED,
        reason or "Pending",
        f"queued in {where}, waiting for admission{detail}",
        recheck_after=RECHECK_SECONDS,
    )


def admitted_condition(
    queue: str | None, job: JobView | None, derived: Derived, user_suspended: bool
) -> Condition | None:
    """Admitted: True once Kueue admitted the current attempt's Workload, False while it
    holds the Job (with the phase's reason); None for a job without a queue or a finished
    one."""
    if queue is None or job is None or job_finished(job):
        return None
    if holds(queue, job, user_suspended):
        # Admitted, and the Job not yet let go: True already, with the phase's message.
        admitted = derived.reason == ADMITTED
        return Condition(cond.ADMITTED, admitted, derived.reason, derived.message)
    if user_suspended:
        return Condition(cond.ADMITTED, False, "Suspended", "spec.suspend is true")
    return Condition(cond.ADMITTED, True, ADMITTED, f"admitted by Kueue from LocalQueue {queue}")


def suspend_changed(queue: str | None, user_suspended: bool, status: Mapping[str, Any]) -> bool:
    """spec.suspend of a queued SFTJob says otherwise than its status: its Workload must be
    (de)activated, which no change of its Job announces (the Job's suspend is Kueue's)."""
    shown = cond.is_true(status.get("conditions") or (), cond.SUSPENDED)
    return queue is not None and user_suspended != shown


def workload_active(user_suspended: bool, workload: WorkloadView | None) -> bool | None:
    """The Workload's spec.active as spec.suspend asks for it; None: leave it as it is.
    Only a Workload the operator deactivated is activated again: Kueue deactivates one
    on its own too (too many requeues), and that is Kueue's to decide."""
    if workload is None:
        return None
    if user_suspended and workload.active:
        return False
    if not user_suspended and not workload.active and workload.deactivated_by_suspend:
        return True
    return None
