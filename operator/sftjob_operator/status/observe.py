"""Compact, pure views of a child Job and its pods: what status derivation needs, nothing more.

The operator keeps these (not whole bodies) in memory, so they are small on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sftjob_operator.api.identity import LABEL_ATTEMPT, LABEL_JOB_NAME
from sftjob_operator.render.meta import DISRUPTION_TARGET
from sftjob_operator.status.timeutil import parse

COMPLETION_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
# On a Kueue Workload the operator deactivated because its SFTJob's spec.suspend is true.
DEACTIVATED_BY_ANNOTATION = "sftjob.dev/deactivated-by"


@dataclass(frozen=True)
class JobView:
    name: str
    attempt: int
    suspended: bool
    active: int = 0
    succeeded: int = 0
    failed: int = 0
    # type -> (status, reason, message)
    conditions: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    completion_time: str | None = None
    created: str | None = None
    failed_at: str | None = None  # when its Failed (or FailureTarget) condition became True
    start_time: str | None = None  # the Job controller's status.startTime
    uid: str = ""  # Kueue labels the Job's Workload with it

    def condition(self, type_: str) -> tuple[str, str] | None:
        """(reason, message) of a condition that is True, else None."""
        cond = self.conditions.get(type_)
        if cond and cond[0] == "True":
            return cond[1], cond[2]
        return None


MAX_POD_MESSAGE = 300


@dataclass(frozen=True)
class PodView:
    name: str
    index: int
    phase: str
    attempt: int = 1
    created: str | None = None
    unschedulable: str | None = None  # the scheduler's message
    waiting_reason: str | None = None
    waiting_message: str | None = None
    exit_code: int | None = None
    terminated_reason: str | None = None
    finished_at: str | None = None
    # Latest condition transition: when the pod last changed, if no container says so.
    last_transition: str | None = None
    terminated_message: str | None = None
    deleting: bool = False  # deleted by someone (e.g. the Job controller), not failed alone
    # The kubelet's word on the whole pod (status.reason/message), e.g. Evicted: "The node
    # was low on resource: ephemeral-storage. ..."; a container's exit code does not say it.
    pod_reason: str | None = None
    pod_message: str | None = None
    # The reason of its DisruptionTarget condition: disrupted from outside the job (e.g.
    # PreemptionByScheduler, EvictionByEvictionAPI, DeletionByPodGC, TerminationByKubelet).
    disruption: str | None = None

    def kubelet_says(self) -> str:
        """'; Evicted: <message>' where the kubelet gave the pod a reason, else ''."""
        if not self.pod_reason:
            return ""
        message = " ".join((self.pod_message or "").split())[:MAX_POD_MESSAGE]
        return f"; {self.pod_reason}: {message}" if message else f"; {self.pod_reason}"


def _attempt(labels: Mapping[str, str]) -> int:
    try:
        return int(labels.get(LABEL_ATTEMPT, "1"))
    except ValueError:
        return 1


def owner_job_name(body: Mapping[str, Any]) -> str | None:
    return ((body.get("metadata") or {}).get("labels") or {}).get(LABEL_JOB_NAME)


def job_view(body: Mapping[str, Any]) -> JobView:
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    conds = {
        str(c.get("type")): (
            str(c.get("status")),
            str(c.get("reason") or ""),
            str(c.get("message") or ""),
        )
        for c in status.get("conditions") or ()
    }
    failed_at = next(
        (
            str(c["lastTransitionTime"])
            for c in status.get("conditions") or ()
            if c.get("type") in ("Failed", "FailureTarget")
            and c.get("status") == "True"
            and c.get("lastTransitionTime")
        ),
        None,
    )
    return JobView(
        name=meta.get("name", ""),
        attempt=_attempt(meta.get("labels") or {}),
        suspended=bool((body.get("spec") or {}).get("suspend")),
        active=int(status.get("active") or 0),
        succeeded=int(status.get("succeeded") or 0),
        failed=int(status.get("failed") or 0),
        conditions=conds,
        completion_time=status.get("completionTime"),
        created=meta.get("creationTimestamp"),
        failed_at=failed_at,
        start_time=status.get("startTime"),
        uid=meta.get("uid", ""),
    )


def pod_view(body: Mapping[str, Any]) -> PodView:
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    index_text = (meta.get("labels") or {}).get(COMPLETION_INDEX_LABEL) or (
        meta.get("annotations") or {}
    ).get(COMPLETION_INDEX_LABEL, "0")
    unschedulable = disruption = None
    transitions = [
        str(c["lastTransitionTime"])
        for c in status.get("conditions") or ()
        if c.get("lastTransitionTime")
    ]
    for cond in status.get("conditions") or ():
        if (cond.get("type"), cond.get("status"), cond.get("reason")) == (
            "PodScheduled",
            "False",
            "Unschedulable",
        ):
            unschedulable = str(cond.get("message") or "no node fits the pod")
        if (cond.get("type"), cond.get("status")) == (DISRUPTION_TARGET, "True"):
            disruption = str(cond.get("reason") or DISRUPTION_TARGET)
    waiting_reason = waiting_message = terminated_reason = finished_at = None
    terminated_message = None
    exit_code = None
    for cs in status.get("containerStatuses") or ():
        state = cs.get("state") or {}
        if waiting := state.get("waiting"):
            waiting_reason = waiting.get("reason")
            waiting_message = waiting.get("message")
        if terminated := state.get("terminated"):
            exit_code = terminated.get("exitCode")
            terminated_reason = terminated.get("reason")
            terminated_message = terminated.get("message")
            finished_at = terminated.get("finishedAt")
    return PodView(
        name=meta.get("name", ""),
        index=int(index_text) if str(index_text).isdigit() else 0,
        attempt=_attempt(meta.get("labels") or {}),
        phase=str(status.get("phase") or "Pending"),
        created=meta.get("creationTimestamp"),
        unschedulable=unschedulable,
        waiting_reason=waiting_reason,
        waiting_message=waiting_message,
        exit_code=exit_code,
        terminated_reason=terminated_reason,
        finished_at=finished_at,
        last_transition=max(transitions) if transitions else None,
        terminated_message=str(terminated_message)[-1024:] if terminated_message else None,
        deleting=bool(meta.get("deletionTimestamp")),
        pod_reason=status.get("reason"),
        pod_message=status.get("message"),
        disruption=disruption,
    )


@dataclass(frozen=True)
class WorkloadView:
    """Kueue's Workload of one Job: its queue, whether it is active, its conditions."""

    name: str
    queue: str = ""
    active: bool = True
    # type -> (status, reason, message)
    conditions: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    cluster_queue: str = ""  # status.admission.clusterQueue, once quota is reserved
    deactivated_by_suspend: bool = False  # the operator set spec.active false (spec.suspend)

    def condition(self, type_: str) -> tuple[str, str] | None:
        """(reason, message) of a condition that is True, else None."""
        cond = self.conditions.get(type_)
        if cond and cond[0] == "True":
            return cond[1], cond[2]
        return None

    def false_condition(self, type_: str) -> tuple[str, str] | None:
        """(reason, message) of a condition that is False, else None."""
        cond = self.conditions.get(type_)
        if cond and cond[0] == "False":
            return cond[1], cond[2]
        return None


def workload_view(body: Mapping[str, Any]) -> WorkloadView:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    return WorkloadView(
        name=meta.get("name", ""),
        queue=str(spec.get("queueName") or ""),
        active=spec.get("active", True) is not False,
        conditions={
            str(c.get("type")): (
                str(c.get("status")),
                str(c.get("reason") or ""),
                str(c.get("message") or ""),
            )
            for c in status.get("conditions") or ()
        },
        cluster_queue=str((status.get("admission") or {}).get("clusterQueue") or ""),
        deactivated_by_suspend=DEACTIVATED_BY_ANNOTATION in (meta.get("annotations") or {}),
    )


# The reason of the Event the Job controller records when the apiserver refuses a pod it
# creates (a ResourceQuota, a LimitRange, an admission webhook or policy).
FAILED_CREATE = "FailedCreate"


@dataclass(frozen=True)
class RefusedPod:
    """Why the Job controller cannot create the Job's pods: its newest FailedCreate Event."""

    message: str
    since: str | None = None  # when the first refusal of that Event was recorded


def _event_times(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(first, last) time of an Event, from the core/v1 fields or the events.k8s.io ones."""
    series = event.get("series") or {}
    created = (event.get("metadata") or {}).get("creationTimestamp")
    first = event.get("firstTimestamp") or event.get("eventTime") or created
    last = (
        series.get("lastObservedTime")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or created
    )
    return first, last


def refused_pod(events: Sequence[Mapping[str, Any]], pods: Sequence[PodView]) -> RefusedPod | None:
    """The newest FailedCreate Event that is not older than the newest pod: an Event from
    before a pod was created is history (the refusal was lifted since)."""
    newest_pod = max((t for p in pods if (t := parse(p.created)) is not None), default=None)
    best: tuple[datetime, RefusedPod] | None = None
    for event in events:
        if event.get("reason") != FAILED_CREATE:
            continue
        first, last = _event_times(event)
        when = parse(last)
        if when is None or (newest_pod is not None and when < newest_pod):
            continue
        if best is None or when > best[0]:
            message = " ".join(str(event.get("message") or "").split())[:MAX_POD_MESSAGE]
            best = (when, RefusedPod(message or FAILED_CREATE, first))
    return best[1] if best else None
