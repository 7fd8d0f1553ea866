"""Health policy: phase, reason and how long it held -> Ready, Reconciling, Stalled (a table)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sftjob_operator.decide import health
from sftjob_operator.status.phase import Policy

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
TEN_MINUTES_AGO = "2025-01-01T11:50:00Z"
A_MINUTE_AGO = "2025-01-01T11:59:00Z"
POLICY = Policy(unschedulable_grace_seconds=300)


@pytest.mark.parametrize(
    ("phase", "reason", "since", "ready", "reconciling", "stalled"),
    [
        ("Pending", "Creating", None, False, True, False),
        ("Pending", "WaitingForPods", None, False, True, False),
        ("Pending", "ImagePullBackOff", TEN_MINUTES_AGO, False, True, False),
        ("Pending", "Unschedulable", A_MINUTE_AGO, False, True, False),
        # Unschedulable past its grace: the job cannot progress, though it stays Pending.
        ("Pending", "Unschedulable", TEN_MINUTES_AGO, False, False, True),
        # Since when is unknown: never stalled on a guess.
        ("Pending", "Unschedulable", None, False, True, False),
        # A child the apiserver refuses (a quota on Jobs, a webhook), as long as a pod's.
        ("Pending", "CreateFailed", A_MINUTE_AGO, False, True, False),
        ("Pending", "CreateFailed", TEN_MINUTES_AGO, False, False, True),
        ("Running", "Running", None, False, True, False),
        ("Running", "WaitingForRanks", TEN_MINUTES_AGO, False, True, False),
        ("Restarting", "Restarting", None, False, True, False),
        ("Succeeded", "Completed", None, True, False, False),
        ("Succeeded", "Rank0Succeeded", None, True, False, False),
        ("Failed", "InvalidSpec", None, False, False, True),
        ("Failed", "BackoffLimitExceeded", None, False, False, True),
        ("Failed", "DeadlineExceeded", None, False, False, True),
        ("Failed", "ImagePullBackOff", None, False, False, True),
        # Suspended waits for a person or for admission: not in flight, not stalled.
        ("Suspended", "Suspended", None, False, False, False),
        ("Suspended", "WaitingForAdmission", TEN_MINUTES_AGO, False, False, False),
    ],
)
def test_assess(
    phase: str, reason: str, since: str | None, ready: bool, reconciling: bool, stalled: bool
) -> None:
    got = health.assess(health.Facts(phase, reason, "why", since), NOW, POLICY)
    assert (got.ready.ok, got.reconciling.ok, got.stalled.ok) == (ready, reconciling, stalled)
    assert [c.type for c in got.conditions] == ["Ready", "Reconciling", "Stalled"]
    assert {(c.reason, c.message) for c in got.conditions} == {(reason, "why")}


def test_never_reconciling_and_stalled_at_once() -> None:
    # kstatus reads Reconciling first: both True would hide a stall as InProgress.
    for phase in ("Pending", "Running", "Restarting", "Failed"):
        got = health.assess(health.Facts(phase, "Unschedulable", "", TEN_MINUTES_AGO), NOW, POLICY)
        assert not (got.reconciling.ok and got.stalled.ok)


def test_a_graced_stall_asks_to_be_checked_when_its_grace_ends() -> None:
    got = health.assess(health.Facts("Pending", "Unschedulable", "", A_MINUTE_AGO), NOW, POLICY)
    assert got.recheck_after == 240
    past = health.assess(health.Facts("Pending", "Unschedulable", "", TEN_MINUTES_AGO), NOW, POLICY)
    assert past.recheck_after is None


def test_every_stall_reason_has_a_grace() -> None:
    for reason, grace in health.STALL_REASONS.items():
        assert grace(Policy()) >= 0, reason


def test_a_new_stall_reason_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    crash_loop = health.Facts("Running", "CrashLoopBackOff", "rank 0 keeps crashing", None)
    assert not health.assess(crash_loop, NOW, POLICY).stalled.ok
    monkeypatch.setattr(
        health, "STALL_REASONS", {**health.STALL_REASONS, "CrashLoopBackOff": health.at_once}
    )
    got = health.assess(crash_loop, NOW, POLICY)
    assert got.stalled.ok and not got.reconciling.ok
    assert (got.stalled.reason, got.stalled.message) == (
        "CrashLoopBackOff",
        "rank 0 keeps crashing",
    )


def test_a_status_behind_the_generation_is_unobserved() -> None:
    assert health.unobserved({"observedGeneration": 1}, 2)
    assert health.unobserved({}, 1)
    assert not health.unobserved({"observedGeneration": 2}, 2)
    assert not health.unobserved({}, None)
