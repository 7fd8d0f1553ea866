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
from sftjob_operator.api.identity import GROUP, LABEL_ATTEMPT, LABEL_JOB_NAME, PLURAL, VERSION
from sftjob_operator.api.spec import RestartBackoff
from sftjob_operator.decide.backoff import delay_seconds

from tests.operator_fixtures import (
    COMPLETE_DELAY,
    OperatorProcess,
    apply,
    condition,
    phase_is,
    sftjob,
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
    """What a user would watch: each attempt's Job as it is created (a watch, so none is
    missed however short it lives), and the BackOff announcements in status (polled)."""

    devcluster: Any
    kube: Any
    namespace: str
    name: str
    jobs: dict[str, dict[int, datetime]] = field(default_factory=dict)
    announced: dict[int, tuple[datetime, int]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    watching: threading.Event = field(default_factory=threading.Event)
    watching_sftjobs: threading.Event = field(default_factory=threading.Event)

    def _watch(self, lister: Any, ready: threading.Event, seen: Any, *args: Any) -> None:
        """Every change of the objects `lister` lists, from before the test's first one."""
        from kubernetes import watch

        listed = lister(*args)  # a typed V1JobList, or a plain dict for custom objects
        meta = listed["metadata"] if isinstance(listed, dict) else listed.metadata.to_dict()
        version = meta.get("resourceVersion") or meta.get("resource_version")
        ready.set()
        while not self.stop.is_set():
            for event in watch.Watch().stream(
                lister, *args, resource_version=version, timeout_seconds=2
            ):
                obj = event["raw_object"]
                version = obj["metadata"]["resourceVersion"]
                seen(obj)

    def _job(self, job: dict[str, Any]) -> None:
        labels = job["metadata"].get("labels") or {}
        if LABEL_JOB_NAME in labels and LABEL_ATTEMPT in labels:
            attempts = self.jobs.setdefault(labels[LABEL_JOB_NAME], {})
            attempts[int(labels[LABEL_ATTEMPT])] = parse(job["metadata"]["creationTimestamp"])

    def _sftjob(self, sft: dict[str, Any]) -> None:
        if sft["metadata"]["name"] != self.name:
            return
        waiting = condition(sft.get("status") or {}, "Restarting")
        if waiting.get("reason") == "BackOff" and (m := ANNOUNCED.search(waiting["message"])):
            self.announced[int(m[1])] = (parse(m[2]), int(m[3]))

    def watch_jobs(self) -> None:
        from kubernetes import client

        lister = client.BatchV1Api(self.kube).list_namespaced_job
        self._watch(lister, self.watching, self._job, self.namespace)

    def watch_sftjobs(self) -> None:
        from kubernetes import client

        lister = client.CustomObjectsApi(self.kube).list_namespaced_custom_object
        self._watch(
            lister, self.watching_sftjobs, self._sftjob, GROUP, VERSION, self.namespace, PLURAL
        )

    def __enter__(self) -> Recorder:
        self.threads += [
            threading.Thread(target=f, daemon=True) for f in (self.watch_jobs, self.watch_sftjobs)
        ]
        for thread in self.threads:
            thread.start()
        assert self.watching.wait(60) and self.watching_sftjobs.wait(60), (
            "the recorder did not start"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_a_crash_loop_backs_off_exponentially_to_its_cap(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    backoff = {"initialSeconds": BACKOFF.initial_seconds, "maxSeconds": BACKOFF.max_seconds}
    common = {"gpusPerNode": 0, "backoffLimit": RESTARTS, "annotations": CRASH}
    with Recorder(devcluster, kube, namespace, "crashloop") as recorder:
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

    assert (st["attempt"], st["restarts"]) == (RESTARTS + 1, RESTARTS)
    assert condition(st, "Failed")["reason"] == "BackoffLimitExceeded"
    assert "exec format error" in st["message"]
    created = recorder.jobs["crashloop"]
    assert sorted(created) == list(range(1, RESTARTS + 2)), created
    expected = {n + 2: delay_seconds(BACKOFF, n, 0.0) for n in range(RESTARTS)}
    gaps = {n: (created[n] - created[n - 1]).total_seconds() for n in expected}
    for attempt, seconds in expected.items():
        # Each attempt starts at least its wait after the one before (whole seconds).
        assert gaps[attempt] >= seconds - 1, (attempt, gaps, expected)
    # The status announced the waits, doubling from initialSeconds up to the cap, and no
    # attempt started before its announced time. A wait can pass before the operator sees
    # the failure (about a second here); then it starts the next attempt at once, so
    # only the longer waits are sure to be announced.
    for attempt, (at, seconds) in recorder.announced.items():
        assert seconds == expected[attempt], (attempt, recorder.announced, expected)
        assert created[attempt] >= at, (attempt, created[attempt], at)
    long_waits = {n for n, s in expected.items() if s >= BACKOFF.max_seconds}
    assert long_waits <= set(recorder.announced), (recorder.announced, expected)
    waits = list(expected.values())
    # The baseline ran the same number of attempts without waiting.
    assert (base["attempt"], base["restarts"]) == (RESTARTS + 1, RESTARTS)
    rate = RESTARTS / backoff_s * 60
    baseline_rate = RESTARTS / baseline_s * 60
    print(
        f"\ncrash loop: {RESTARTS} restarts in {backoff_s:.1f}s with backoff "
        f"({rate:.1f}/min, waits {waits}) vs {baseline_s:.1f}s without "
        f"({baseline_rate:.1f}/min): {baseline_rate / rate:.1f}x fewer restarts per minute"
    )
