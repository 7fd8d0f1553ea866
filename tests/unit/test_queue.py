"""Table tests: a queued SFTJob's Job and Kueue Workload -> phase, Admitted, spec.active."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.decide.queue import admitted_condition, derive, holds, workload_active
from sftjob_operator.status.observe import JobView, WorkloadView, job_view, workload_view
from sftjob_operator.status.phase import FAILED, PREEMPTED, QUEUED, Derived

Q = "team-a"
PENDING_MSG = "couldn't assign flavors to pod set main: insufficient quota for nvidia.com/gpu"


def job(suspended: bool = True, **conds: str) -> JobView:
    return JobView(
        name="j-a1",
        attempt=1,
        suspended=suspended,
        conditions={t: ("True", "", "") for t in conds},
        uid="u1",
    )


def wl(active: bool = True, by_us: bool = False, **conds: tuple[str, str, str]) -> WorkloadView:
    return WorkloadView(
        name="job-j-a1-abcde",
        queue=Q,
        active=active,
        conditions=conds,
        cluster_queue="gpus" if "Admitted" in conds else "",
        deactivated_by_suspend=by_us,
    )


PENDING = ("False", "Pending", PENDING_MSG)
INADMISSIBLE = ("False", "Inadmissible", "LocalQueue team-a doesn't exist")

# name, queue, job, workload, spec.suspend -> phase, reason, words in the message
ROWS: list[tuple[str, str | None, JobView | None, WorkloadView | None, bool, Any]] = [
    ("no queue label: another rule", None, job(), wl(), False, None),
    ("no Job yet", Q, None, None, False, None),
    ("Job running: admitted, another rule", Q, job(suspended=False), wl(), False, None),
    ("user suspended: Suspended, another rule", Q, job(), wl(), True, None),
    ("Job finished: another rule", Q, job(Complete="x"), wl(), False, None),
    (
        "no Workload yet",
        Q,
        job(),
        None,
        False,
        (QUEUED, "WaitingForWorkload", ["LocalQueue team-a"]),
    ),
    (
        "waiting for quota",
        Q,
        job(),
        wl(QuotaReserved=PENDING),
        False,
        (QUEUED, "Pending", ["LocalQueue team-a", "insufficient quota for nvidia.com/gpu"]),
    ),
    (
        "inadmissible",
        Q,
        job(),
        wl(QuotaReserved=INADMISSIBLE),
        False,
        (QUEUED, "Inadmissible", ["doesn't exist"]),
    ),
    (
        "quota reserved, admission checks pending",
        Q,
        job(),
        wl(QuotaReserved=("True", "QuotaReserved", "Quota reserved in ClusterQueue gpus")),
        False,
        (QUEUED, "QuotaReserved", ["admission checks"]),
    ),
    (
        "admitted, Job not yet unsuspended",
        Q,
        job(),
        wl(
            QuotaReserved=("True", "QuotaReserved", ""),
            Admitted=("True", "Admitted", "The workload is admitted"),
        ),
        False,
        (QUEUED, "Admitted", ["ClusterQueue gpus", "starting"]),
    ),
    (
        "preempted, requeued",
        Q,
        job(),
        wl(
            QuotaReserved=("False", "Pending", "Preempted to accommodate a workload"),
            Evicted=("True", "Preempted", "Preempted to accommodate a workload (UID: x)"),
            Requeued=("True", "Preempted", "Preempted to accommodate a workload (UID: x)"),
        ),
        False,
        (PREEMPTED, "Preempted", ["to accommodate", "newest checkpoint", "LocalQueue team-a"]),
    ),
    (
        "preempted condition only",
        Q,
        job(),
        wl(
            QuotaReserved=PENDING,
            Preempted=("True", "InClusterQueue", "Preempted by a higher priority workload"),
        ),
        False,
        (PREEMPTED, "Preempted", ["higher priority"]),
    ),
    (
        "evicted for another reason is only queued",
        Q,
        job(),
        wl(QuotaReserved=PENDING, Evicted=("True", "PodsReadyTimeout", "not ready")),
        False,
        (QUEUED, "Pending", ["insufficient quota"]),
    ),
]


@pytest.mark.parametrize(
    ("queue", "job_", "workload", "suspend", "expected"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_derive(
    queue: str | None,
    job_: JobView | None,
    workload: WorkloadView | None,
    suspend: bool,
    expected: Any,
) -> None:
    got = derive(queue, job_, workload, suspend)
    if expected is None:
        assert got is None
        return
    phase, reason, words = expected
    assert isinstance(got, Derived)
    assert (got.phase, got.reason) == (phase, reason)
    assert got.phase != FAILED and not got.job_failed and got.action is None
    for word in words:
        assert word in got.message


def test_a_held_job_is_rechecked_for_kueues_reason_but_an_admitted_one_is_not() -> None:
    pending = derive(Q, job(), wl(QuotaReserved=PENDING), False)
    admitted = derive(Q, job(), wl(Admitted=("True", "Admitted", "")), False)
    assert pending is not None and pending.recheck_after
    assert admitted is not None and admitted.recheck_after is None


@pytest.mark.parametrize(
    ("queue", "job_", "suspend", "reason", "expected"),
    [
        (None, job(), False, "Pending", None),
        (Q, None, False, "Pending", None),
        (Q, job(Complete="x"), False, "Pending", None),
        (Q, job(), False, "Pending", (False, "Pending")),
        (Q, job(), True, "Pending", (False, "Suspended")),
        (Q, job(suspended=False), False, "Pending", (True, "Admitted")),
        # Kueue admitted the Workload; the Job is unsuspended a moment later.
        (Q, job(), False, "Admitted", (True, "Admitted")),
    ],
)
def test_admitted_condition(
    queue: str | None, job_: JobView | None, suspend: bool, reason: str, expected: Any
) -> None:
    derived = Derived(QUEUED, reason, "queued")
    got = admitted_condition(queue, job_, derived, suspend)
    if expected is None:
        assert got is None
    else:
        assert got is not None and (got.ok, got.reason) == expected


@pytest.mark.parametrize(
    ("suspend", "workload", "active"),
    [
        (False, None, None),
        (True, None, None),  # not created yet: the next reconcile deactivates it
        (True, wl(), False),  # the user suspends: deactivate
        (True, wl(active=False, by_us=True), None),  # already so
        (False, wl(active=False, by_us=True), True),  # resumed: activate what we deactivated
        (False, wl(active=False), None),  # Kueue deactivated it itself: Kueue's call
        (False, wl(), None),
    ],
)
def test_workload_active(suspend: bool, workload: WorkloadView | None, active: bool | None) -> None:
    assert workload_active(suspend, workload) is active


def test_holds_only_a_suspended_unfinished_job_with_a_queue() -> None:
    assert holds(Q, job(), False)
    assert not holds(Q, job(Failed="x"), False)
    assert not holds(Q, job(), True)
    assert not holds(None, job(), False)


def test_views_read_kueues_objects() -> None:
    body = {
        "metadata": {
            "name": "job-j-a1-abcde",
            "annotations": {"sftjob.dev/deactivated-by": "spec.suspend"},
        },
        "spec": {"queueName": Q, "active": False},
        "status": {
            "admission": {"clusterQueue": "gpus"},
            "conditions": [{"type": "QuotaReserved", "status": "False", "reason": "Pending"}],
        },
    }
    view = workload_view(body)
    assert (view.queue, view.active, view.cluster_queue) == (Q, False, "gpus")
    assert view.deactivated_by_suspend
    assert view.false_condition("QuotaReserved") == ("Pending", "")
    assert workload_view({"metadata": {"name": "w"}}).active
    assert job_view({"metadata": {"name": "j", "uid": "u9"}}).uid == "u9"


def test_a_missing_workload_is_looked_for_soon_then_seldom() -> None:
    from datetime import UTC, datetime

    from sftjob_operator.decide.queue import NO_WORKLOAD_RECHECK_SECONDS, RECHECK_SECONDS

    young = JobView(name="j-a1", attempt=1, suspended=True, created="2025-01-01T11:59:50Z")
    old = JobView(name="j-a1", attempt=1, suspended=True, created="2025-01-01T11:00:00Z")
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    soon = derive(Q, young, None, False, now)
    later = derive(Q, old, None, False, now)
    assert soon is not None and soon.recheck_after == NO_WORKLOAD_RECHECK_SECONDS
    assert later is not None and later.recheck_after == RECHECK_SECONDS


def test_a_changed_spec_suspend_of_a_queued_job_asks_for_a_reconcile() -> None:
    from sftjob_operator.decide.queue import suspend_changed

    suspended = {"conditions": [{"type": "Suspended", "status": "True"}]}
    assert suspend_changed(Q, True, {})
    assert not suspend_changed(Q, True, suspended)
    assert suspend_changed(Q, False, suspended)
    assert not suspend_changed(Q, False, {})
    assert not suspend_changed(None, True, {})  # not queued: mirroring the Job does it


class RecordingApi:
    """k8s.Api's list_labelled and patch, answering with the given Workloads."""

    def __init__(self, workloads: list[dict[str, Any]]) -> None:
        self.workloads = workloads
        self.listed: list[str] = []
        self.patches: list[tuple[str, dict[str, Any]]] = []

    async def list_labelled(self, version: str, kind: str, ns: str, selector: str) -> Any:
        self.listed.append(selector)
        return self.workloads

    async def patch(self, version: str, kind: str, ns: str, name: str, body: Any) -> None:
        self.patches.append((name, body))


def _workload(active: bool) -> dict[str, Any]:
    return {"metadata": {"name": "job-j-a1-x", "namespace": "ns"}, "spec": {"active": active}}


QUEUED = {"metadata": {"name": "j", "namespace": "ns", "uid": "u"}, "spec": {}}


@pytest.mark.parametrize(("workloads", "handled", "patched"), [
    ([_workload(True)], True, [("job-j-a1-x", {"spec": {"active": False}})]),
    ([_workload(False)], True, []),  # already given up: nothing more to write
    ([], False, []),  # no Workload: the caller suspends the Job itself
])  # fmt: skip
def test_a_finished_queued_job_stops_through_its_workload_unmarked(
    workloads: list[dict[str, Any]], handled: bool, patched: list[Any]
) -> None:
    """Kueue unsuspends the suspended Job of an admitted Workload, so the pods of a finished
    queued job stop by deactivating its Workload, without the spec.suspend mark (so a later
    look at the job never activates it again)."""
    import asyncio

    from sftjob_operator.views import sft_view
    from sftjob_operator.workloads import stop_by_workload

    api = RecordingApi(workloads)
    admitted = job(suspended=False)
    done = asyncio.run(stop_by_workload(api, sft_view(QUEUED), admitted))  # type: ignore[arg-type]
    assert done is handled and api.patches == patched
    assert api.listed == [f"kueue.x-k8s.io/job-uid={admitted.uid}"]
