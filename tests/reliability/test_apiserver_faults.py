"""The apiserver fails under a running operator: it is killed and relaunched on the same
etcd, or paused (SIGSTOP) until the watch connections are stranded. The operator is never
restarted: it reconnects by itself, within a bound, and logs the outage one line per retry."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.operator_fixtures import OperatorProcess, apply, phase_is, status, wait_for
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
INACTIVITY_SECONDS = 5.0
WATCHED = ("sftjobs", "jobs", "pods", "configmaps")


def started(devcluster: Any, namespace: str, name: str) -> bool:
    return status(devcluster, namespace, name).get("phase") in ("Running", "Succeeded")


def log_clock() -> str:
    """Now, as the operator's log lines begin (local time, to the second)."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


def test_the_operator_rides_out_an_apiserver_restart(
    apiserver_restored: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    devcluster = apiserver_restored
    expected = [Expected(f"outage-{i:02d}", nodes=1 + i % 2) for i in range(pick(ci=3, full=20))]
    # Long enough to be Running before the kill, short enough to end during the outage.
    apply(devcluster, *(e.manifest(namespace, f"{pick(ci=8, full=30)}s") for e in expected))
    for e in expected:  # on a slow machine the first may be done before the last runs
        wait_for(f"{e.name} Running", lambda e=e: started(devcluster, namespace, e.name))
    running = sum(phase_is(devcluster, namespace, e.name, "Running") is not None for e in expected)
    log_start = len(operator.log.read_text())
    starts, pid = operator.starts, operator.proc.pid if operator.proc else None

    # And some the operator is still creating when the apiserver dies: its own calls fail.
    creating = [Expected(f"creating-{i:02d}") for i in range(pick(ci=2, full=10))]
    apply(devcluster, *(e.manifest(namespace, "1s") for e in creating))
    expected += creating
    devcluster.kill_apiserver()
    time.sleep(pick(ci=8, full=45))  # every pod's time runs out meanwhile
    devcluster.start_apiserver()

    # They end only through the watches: the operator reconnected by itself.
    wait_for(
        "every SFTJob to settle", lambda: settled(devcluster, namespace, expected), timeout=180
    )
    assert not problems(devcluster, kube, namespace, expected)
    assert (operator.starts, operator.proc.pid if operator.proc else None) == (starts, pid)
    log = operator.log.read_text()[log_start:]
    assert "Traceback" not in log and multi_line_entries(log) == [], log[-4000:]
    retries = [line for line in log.splitlines() if "retry" in line or "retrying" in line]
    assert retries, "the outage left no retry in the operator's log"
    ours = [line for line in retries if " sftjob_operator." in line]
    print(
        f"\nFIGURES apiserver-restart: jobs={len(expected)} running-at-kill={running} "
        f"creating-at-kill={len(creating)} retry-lines={len(retries)} "
        f"of-which-ours={len(ours)} tracebacks=0"
    )


def test_stranded_watches_are_reestablished_within_a_bound(
    apiserver_restored: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    devcluster = apiserver_restored
    # --verbose: kopf logs a silent stream's reconnect at debug level.
    flags = ("--watch-inactivity-timeout", str(INACTIVITY_SECONDS), "--verbose")
    with operator_restarted(operator, extra_args=flags):
        early = Expected("paused-early")
        apply(devcluster, early.manifest(namespace, "20s"))
        wait_for("Running", lambda: phase_is(devcluster, namespace, early.name, "Running"))
        log_start = len(operator.log.read_text())

        pause_began = log_clock()
        devcluster.pause_apiserver()
        try:
            # Every watch goes silent for longer than the operator waits for one.
            paused = INACTIVITY_SECONDS * pick(ci=2, full=4)
            time.sleep(paused)
        finally:
            devcluster.resume_apiserver()
        resumed = time.monotonic()
        pause_ended = log_clock()
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
    assert "Traceback" not in log, log[-4000:]
    during = "\n".join(line for line in log.splitlines() if pause_began <= line[:19] <= pause_ended)
    noticed = {r for r in WATCHED if re.search(rf"Watch-stream for {r}\S* .*is inactive", during)}
    assert noticed == set(WATCHED), "the silent watches that were not replaced: " + ", ".join(
        sorted(set(WATCHED) - noticed)
    )
    print(
        f"\nFIGURES silent-watches: paused={paused:.0f}s picked-up-after-resume={picked_up:.1f}s "
        f"bound={bound:.0f}s silent-watches-replaced={len(noticed)}/{len(WATCHED)}"
    )
