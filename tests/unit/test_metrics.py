"""The Prometheus exposition of the operator's metrics (pure)."""

from __future__ import annotations

import re

import pytest
from sftjob_operator.metrics import JobSample, OperatorCounters, escape, exposition
from sftjob_operator.metrics_server import listen_address

from tests.prometheus_text import samples as scraped


def test_jobs_are_counted_by_namespace_and_phase() -> None:
    jobs = [
        JobSample("a", "x", "Running"),
        JobSample("a", "y", "Running"),
        JobSample("a", "z", ""),
        JobSample("b", "x", "Succeeded"),
    ]
    samples = scraped(exposition(jobs, OperatorCounters()))
    assert samples['sftjob_jobs{namespace="a",phase="Running"}'] == 2
    assert samples['sftjob_jobs{namespace="a",phase="Unknown"}'] == 1
    assert samples['sftjob_jobs{namespace="b",phase="Succeeded"}'] == 1


def test_progress_becomes_per_job_gauges_labelled_sftjob_not_job() -> None:
    job = JobSample(
        "team",
        "llama",
        "Running",
        restarts=2,
        disruptions=1,
        progress={
            "step": 50,
            "maxSteps": 200,
            "percent": 25.0,
            "loss": 1.25,
            "learningRate": 2e-5,
            "lossHistory": [{"step": 50, "loss": 1.25}],
            "lastCheckpoint": "checkpoint-50",
        },
    )
    samples = scraped(exposition([job], OperatorCounters()))
    labels = '{namespace="team",sftjob="llama"}'
    assert samples[f"sftjob_progress_step{labels}"] == 50
    assert samples[f"sftjob_progress_max_steps{labels}"] == 200
    assert samples[f"sftjob_progress_percent{labels}"] == 25
    assert samples[f"sftjob_loss{labels}"] == 1.25
    assert samples[f"sftjob_learning_rate{labels}"] == 2e-5
    assert samples[f"sftjob_restarts{labels}"] == 2
    assert samples[f"sftjob_disruptions{labels}"] == 1
    assert not any("History" in s or "Checkpoint" in s for s in samples)
    # A job without progress has no progress series, only its phase and restarts.
    bare = scraped(exposition([JobSample("team", "new", "Pending")], OperatorCounters()))
    assert [s for s in bare if s.startswith("sftjob_progress")] == []


def test_operator_counters() -> None:
    counters = OperatorCounters(
        api_writes={"POST configmaps": 3, "PATCH sftjobs/status": 5},
        transitions={"Running": 2, "Succeeded": 1},
        create_failures=4,
        api_throttled={"PATCH sftjobs/status": 7},
    )
    samples = scraped(exposition([], counters))
    total = "sftjob_operator_api_writes_total"
    assert samples[f'{total}{{verb="POST",resource="configmaps"}}'] == 3
    assert samples[f'{total}{{verb="PATCH",resource="sftjobs/status"}}'] == 5
    assert samples['sftjob_operator_phase_transitions_total{phase="Running"}'] == 2
    assert samples["sftjob_operator_child_create_failures_total"] == 4
    throttled = "sftjob_operator_api_throttled_total"
    assert samples[f'{throttled}{{verb="PATCH",resource="sftjobs/status"}}'] == 7


def test_label_values_are_escaped() -> None:
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'


def test_every_family_is_declared_once() -> None:
    text = exposition([JobSample("a", "x", "Running", progress={"loss": 1.0})], OperatorCounters())
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(types) == len(set(types))
    assert text.endswith("\n")


def test_listen_address() -> None:
    assert listen_address("http://0.0.0.0:8081/metrics") == ("0.0.0.0", 8081, "/metrics")
    assert listen_address("http://127.0.0.1:9000") == ("127.0.0.1", 9000, "/metrics")


@pytest.mark.parametrize(
    "url", ["0.0.0.0:8081", "https://h:1/m", "http://host/metrics", "http://h:x/"]
)
def test_listen_address_refuses_what_it_cannot_serve(url: str) -> None:
    with pytest.raises(ValueError, match=re.escape("http://0.0.0.0:8081/metrics")):
        listen_address(url)
