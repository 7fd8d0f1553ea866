"""The apiserver fails under a running operator: it is killed and relaunched on the same
etcd, or paused (SIGSTOP) until the watch connections are stranded. The operator is never
restarted: it reconnects by itself, within a bound, and logs the outage one line per retry."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.operator_fixtures import OperatorProcess, apply, phase_is, wait_for
from tests.reliability.faults import (
    Expected,
    multi_line_entries,
    operator_restarted,
    problems,
    settled,
)
from tests.reliability.scale import pick

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
# The silent-watch test's inactivity timeout: short, so the test is quick.
INACTIVITY_SECONDS = 8.0


def test_the_operator_rides_out_an_apiserver_restart(
    apiserver_restored: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    devcluster = apiserver_restored
    expected = [Expected(f"outage-{i:02d}", nodes=1 + i % 2) for i in range(pick(ci=4, full=20))]
    # Long enough to be Running before the kill, short enough to end during the outage.
    apply(devcluster, *(e.manifest(namespace, "12s") for e in expected))
    for e in expected:
        wait_for(
            f"{e.name} Running", lambda e=e: phase_is(devcluster, namespace, e.name, "Running")
        )
    log_start = len(operator.log.read_text())
    starts, pid = operator.starts, operator.proc.pid if operator.proc else None

    devcluster.kill_apiserver()
    time.sleep(pick(ci=15, full=45))  # every pod's time runs out meanwhile
    devcluster.start_apiserver()

    wait_for(
        "every SFTJob to settle", lambda: settled(devcluster, namespace, expected), timeout=180
    )
    assert not problems(devcluster, kube, namespace, expected)
    apply(devcluster, Expected("after-outage").manifest(namespace, "1s"))
    wait_for(
        "a job created after the outage to succeed (the watches are back)",
        lambda: phase_is(devcluster, namespace, "after-outage", "Succeeded"),
        timeout=120,
    )
    assert (operator.starts, operator.proc.pid if operator.proc else None) == (starts, pid)
    log = operator.log.read_text()[log_start:]
    assert "Traceback" not in log and multi_line_entries(log) == [], log[-4000:]
    retries = [line for line in log.splitlines() if "retry" in line]
    assert retries, "the outage left no retry in the operator's log"
    print(f"\nFIGURES apiserver-restart: jobs={len(expected)} retry-lines={len(retries)}")


def test_stranded_watches_are_reestablished_within_a_bound(
    apiserver_restored: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    devcluster = apiserver_restored
    flags = ("--watch-inactivity-timeout", str(INACTIVITY_SECONDS))
    with operator_restarted(operator, extra_args=flags):
        early = Expected("paused-early")
        apply(devcluster, early.manifest(namespace, "20s"))
        wait_for("Running", lambda: phase_is(devcluster, namespace, early.name, "Running"))
        log_start = len(operator.log.read_text())

        devcluster.pause_apiserver()
        try:
            # Every watch goes silent for longer than the operator waits for one.
            time.sleep(INACTIVITY_SECONDS * pick(ci=2, full=4))
        finally:
            devcluster.resume_apiserver()
        resumed = time.monotonic()
        late = Expected("paused-late")
        apply(devcluster, late.manifest(namespace, "1s"))
        # The bound: a silent stream is dropped after the inactivity timeout, and the
        # reconnect (1 s backoff) must then deliver; slack for a loaded machine.
        bound = INACTIVITY_SECONDS + 20
        wait_for(
            "the SFTJob created after the pause to be picked up",
            lambda: phase_is(devcluster, namespace, late.name, "Succeeded"),
            timeout=bound,
        )
        picked_up = time.monotonic() - resumed
        wait_for(
            "the job that ran through the pause to succeed (child watches)",
            lambda: settled(devcluster, namespace, [early, late]),
            timeout=bound,
        )
        assert not problems(devcluster, kube, namespace, [early, late])
        log = operator.log.read_text()[log_start:]
        assert "Traceback" not in log and multi_line_entries(log) == [], log[-4000:]
    print(f"\nFIGURES silent-watches: picked-up-after-resume={picked_up:.1f}s bound={bound:.0f}s")
