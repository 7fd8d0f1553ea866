"""Leader election's Lease rules (pure) and its flags."""

from __future__ import annotations

import datetime as dt

import pytest
from sftjob_operator.cli import parse_args
from sftjob_operator.leader.lease import (
    Observed,
    Timing,
    may_take,
    new_lease,
    observe,
    release_patch,
    take_patch,
)

AT = dt.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
TIMING = Timing(lease_seconds=15, renew_deadline_seconds=10, retry_seconds=2)


def lease(holder: str, version: str, transitions: int = 0) -> dict[str, object]:
    return {
        "metadata": {"name": "op", "namespace": "sys", "resourceVersion": version},
        "spec": {"holderIdentity": holder, "leaseTransitions": transitions},
    }


def test_expiry_counts_from_when_this_replica_saw_the_record_change() -> None:
    seen = observe(lease("a", "1"), None, now=100)
    assert seen == Observed("a", "1", 100)
    assert observe(lease("a", "1"), seen, now=110) is seen  # unchanged: the clock runs on
    assert not may_take(seen, "b", TIMING, now=114.9)
    assert may_take(seen, "b", TIMING, now=115)
    renewed = observe(lease("a", "2"), seen, now=114)  # a renewal restarts the wait
    assert not may_take(renewed, "b", TIMING, now=120)


def test_a_free_or_own_lease_may_be_taken_at_once() -> None:
    assert may_take(Observed("", "5", 100), "b", TIMING, now=100)
    assert may_take(Observed("b", "5", 100), "b", TIMING, now=100)


def test_taking_over_counts_a_transition_and_renewing_does_not() -> None:
    take = take_patch(lease("a", "7", transitions=2), "b", TIMING, AT)
    assert take["metadata"] == {"resourceVersion": "7"}  # refused (409) if written since
    assert take["spec"]["leaseTransitions"] == 3
    assert take["spec"]["acquireTime"] == "2026-01-01T12:00:00.123456Z"
    renew = take_patch(lease("b", "8", transitions=3), "b", TIMING, AT)
    assert "leaseTransitions" not in renew["spec"] and "acquireTime" not in renew["spec"]
    assert renew["spec"]["renewTime"] == "2026-01-01T12:00:00.123456Z"


def test_new_and_released_leases() -> None:
    created = new_lease("op", "sys", "a", TIMING, AT)
    assert created["spec"]["holderIdentity"] == "a"
    assert created["spec"]["leaseDurationSeconds"] == 15
    released = release_patch(lease("a", "9"), AT)
    assert released["spec"]["holderIdentity"] is None
    assert released["metadata"] == {"resourceVersion": "9"}


def test_the_charts_election_flags_parse() -> None:
    options = parse_args(
        ["--leader-election-lease", "sftjob-system/sftjob-operator",
         "--leader-election-identity", "pod-1", "--leader-election-lease-duration", "15",
         "--leader-election-renew-deadline", "10", "--leader-election-retry", "2"]
    )  # fmt: skip
    assert options.election is not None
    assert (options.election.namespace, options.election.name) == (
        "sftjob-system",
        "sftjob-operator",
    )
    assert options.election.identity.startswith("pod-1_")
    again = parse_args(["--leader-election-lease", "a/b", "--leader-election-identity", "pod-1"])
    assert again.election is not None and again.election.identity != options.election.identity
    assert (again.election.namespace, again.election.name) == ("a", "b")
    assert options.election.timing == TIMING
    assert parse_args([]).election is None


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--leader-election-lease", "just-a-name"], "is not NAMESPACE/NAME"),
        (["--leader-election-lease", "a/b", "--leader-election-renew-deadline", "20"],
         "--leader-election-renew-deadline must lie between"),
    ],
)  # fmt: skip
def test_bad_election_flags_name_the_flag(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert needle in capsys.readouterr().err
