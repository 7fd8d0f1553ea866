"""Crash loops: a trainer that fails at once does not hammer the cluster.

Two SFTJobs whose pods fail as soon as they run (kwok's fail stage), side by side on the
devcluster: one with the restart backoff, one with it off (initialSeconds 0, the baseline,
measured in the same run). Every attempt's Job is recorded as it appears; the backoff job's
status is sampled for its BackOff condition. The backoff job's waits must double up to the
cap, each next attempt must start no earlier than its status announced, and it must make
far fewer attempts per minute than the baseline.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from sftjob_devcluster.stages import FAIL_ANNOTATION
from sftjob_operator.api.identity import LABEL_ATTEMPT
from sftjob_operator.api.spec import RestartBackoff
from sftjob_operator.decide.backoff import delay_seconds

from tests.operator_fixtures import (
    COMPLETE_DELAY,
    OperatorProcess,
    apply,
    children,
    condition,
    phase_is,
    sftjob,
    status,
    wait_for,
)
from tests.reliability.scale import pick

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

CRASH = {FAIL_ANNOTATION: "exec format error", COMPLETE_DELAY: "0s"}
BACKOFF = pick(
    ci=RestartBackoff(initial_seconds=1, max_seconds=4),
    full=RestartBackoff(initial_seconds=5, max_seconds=40),
)
RESTARTS = pick(ci=5, full=7)
ANNOUNCED = re.compile(r"attempt (\d+) starts at (\S+), after a (\d+)s backoff")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class Recorder:
    """Polls what a user would watch: each attempt's Job as it appears, and the
    BackOff announcements in status."""

    devcluster: Any
    kube: Any
    namespace: str
    names: tuple[str, ...]
    jobs: dict[str, dict[int, datetime]] = field(default_factory=dict)
    announced: dict[int, tuple[datetime, int]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            for name in self.names:
                for job in children(self.kube, self.namespace, name, "Job"):
                    attempt = int(job.metadata.labels[LABEL_ATTEMPT])
                    self.jobs.setdefault(name, {})[attempt] = job.metadata.creation_timestamp
            waiting = condition(
                status(self.devcluster, self.namespace, self.names[0]), "Restarting"
            )
            if waiting.get("reason") == "BackOff" and (m := ANNOUNCED.search(waiting["message"])):
                self.announced[int(m[1])] = (parse(m[2]), int(m[3]))
            time.sleep(0.2)


def test_a_crash_loop_backs_off_exponentially_to_its_cap(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    backoff = {"initialSeconds": BACKOFF.initial_seconds, "maxSeconds": BACKOFF.max_seconds}
    common = {"gpusPerNode": 0, "backoffLimit": RESTARTS, "annotations": CRASH}
    recorder = Recorder(devcluster, kube, namespace, ("crashloop", "baseline"))
    thread = threading.Thread(target=recorder.run, daemon=True)
    thread.start()
    try:
        begun = time.monotonic()
        apply(
            devcluster,
            sftjob("crashloop", namespace, restartBackoff=backoff, **common),
            sftjob("baseline", namespace, restartBackoff={"initialSeconds": 0}, **common),
        )
        base = wait_for(
            "the baseline Failed", lambda: phase_is(devcluster, namespace, "baseline", "Failed")
        )
        baseline_s = time.monotonic() - begun
        expected_wait = sum(delay_seconds(BACKOFF, n, 0.0) for n in range(RESTARTS))
        st = wait_for(
            "the crash loop Failed",
            lambda: phase_is(devcluster, namespace, "crashloop", "Failed"),
            timeout=60 + 2 * expected_wait,
        )
        backoff_s = time.monotonic() - begun
        time.sleep(0.5)  # one more sample of the last Job
    finally:
        recorder.stop.set()
        thread.join(timeout=10)

    assert (st["attempt"], st["restarts"]) == (RESTARTS + 1, RESTARTS)
    assert condition(st, "Failed")["reason"] == "BackoffLimitExceeded"
    assert "exec format error" in st["message"]
    created = recorder.jobs["crashloop"]
    assert sorted(created) == list(range(1, RESTARTS + 2)), created
    # The status announced every wait: doubling from initialSeconds, then the cap.
    waits = [recorder.announced[n][1] for n in sorted(recorder.announced)]
    assert sorted(recorder.announced) == list(range(2, RESTARTS + 2))
    assert waits == [delay_seconds(BACKOFF, n, 0.0) for n in range(RESTARTS)]
    assert waits[-1] == BACKOFF.max_seconds
    for attempt, (at, seconds) in recorder.announced.items():
        # No attempt starts before its announced time (timestamps have whole seconds)...
        assert created[attempt] >= at, (attempt, created[attempt], at)
        # ...and the gap to the attempt before is at least the wait.
        assert (created[attempt] - created[attempt - 1]).total_seconds() >= seconds - 1
    # The baseline ran the same number of attempts without waiting.
    assert (base["attempt"], base["restarts"]) == (RESTARTS + 1, RESTARTS)
    rate = RESTARTS / backoff_s * 60
    baseline_rate = RESTARTS / baseline_s * 60
    print(
        f"\ncrash loop: {RESTARTS} restarts in {backoff_s:.1f}s with backoff "
        f"({rate:.1f}/min, waits {waits}) vs {baseline_s:.1f}s without "
        f"({baseline_rate:.1f}/min): {baseline_rate / rate:.1f}x fewer restarts per minute"
    )
