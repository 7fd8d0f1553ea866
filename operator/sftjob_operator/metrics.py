"""Prometheus metrics: the operator's view of its SFTJobs, in the text exposition format.

Pure: `exposition` turns a snapshot into the text a scrape returns. Per-job series carry
the labels `namespace` and `sftjob` (not `job`, which Prometheus sets to the scrape job).
Numbers come from status as the operator last wrote it, so a scrape agrees with
`kubectl get sft`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NO_PHASE = "Unknown"  # an SFTJob the operator has not written a status for yet

# status.progress key -> (metric name, help)
PROGRESS_GAUGES: dict[str, tuple[str, str]] = {
    "step": ("sftjob_progress_step", "Training step of the current attempt."),
    "maxSteps": ("sftjob_progress_max_steps", "Steps the run trains in total."),
    "percent": ("sftjob_progress_percent", "Percent of the run's steps done."),
    "epoch": ("sftjob_progress_epoch", "Epoch reached, fractional."),
    "loss": ("sftjob_loss", "Training loss last reported."),
    "learningRate": ("sftjob_learning_rate", "Learning rate last reported."),
    "tokensPerSecond": ("sftjob_tokens_per_second", "Training throughput last reported."),
    "etaSeconds": ("sftjob_eta_seconds", "Estimated seconds until the run ends."),
}


@dataclass(frozen=True)
class JobSample:
    namespace: str
    name: str
    phase: str
    restarts: int = 0
    progress: Mapping[str, Any] = field(default_factory=dict)
    disruptions: int = 0


@dataclass(frozen=True)
class OperatorCounters:
    api_writes: Mapping[str, int] = field(default_factory=dict)  # "POST configmaps" -> n
    transitions: Mapping[str, int] = field(default_factory=dict)  # phase entered -> n
    create_failures: int = 0
    api_throttled: Mapping[str, int] = field(default_factory=dict)  # "GET sftjobs" -> n


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _family(
    name: str, kind: str, help_: str, samples: Iterable[tuple[Mapping[str, str], float]]
) -> list[str]:
    return [
        f"# HELP {name} {help_}",
        f"# TYPE {name} {kind}",
        *(f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples),
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _by_request(counts: Mapping[str, int]) -> list[tuple[dict[str, str], float]]:
    """{"POST configmaps": n} -> samples labelled verb="POST", resource="configmaps"."""
    out = []
    for request, n in sorted(counts.items()):
        verb, _, resource = request.partition(" ")
        out.append(({"verb": verb, "resource": resource}, float(n)))
    return out


def leader_family(leading: bool) -> list[str]:
    """Whether this replica reconciles: a standby answers a scrape with this alone, so that
    every replica of the metrics Service is up to Prometheus."""
    return _family(
        "sftjob_operator_leader",
        "gauge",
        "1 on the replica that holds the leader election Lease and reconciles, 0 on a standby.",
        [({}, 1.0 if leading else 0.0)],
    )


def standby_exposition() -> str:
    return "\n".join(leader_family(False)) + "\n"


def exposition(jobs: Iterable[JobSample], counters: OperatorCounters) -> str:
    ordered = sorted(jobs, key=lambda j: (j.namespace, j.name))
    by_phase: Counter[tuple[str, str]] = Counter(
        (job.namespace, job.phase or NO_PHASE) for job in ordered
    )
    lines = _family(
        "sftjob_jobs",
        "gauge",
        "SFTJobs by namespace and phase.",
        (({"namespace": ns, "phase": phase}, n) for (ns, phase), n in sorted(by_phase.items())),
    )
    lines += _family(
        "sftjob_restarts",
        "gauge",
        "Attempts restarted after a failure (status.restarts).",
        (({"namespace": j.namespace, "sftjob": j.name}, j.restarts) for j in ordered),
    )
    lines += _family(
        "sftjob_disruptions",
        "gauge",
        "Of the restarts, those after a disruption (preemption, eviction, lost node), which "
        "do not count against spec.backoffLimit (status.disruptions).",
        (({"namespace": j.namespace, "sftjob": j.name}, j.disruptions) for j in ordered),
    )
    for key, (name, help_) in PROGRESS_GAUGES.items():
        samples = [
            ({"namespace": j.namespace, "sftjob": j.name}, float(j.progress[key]))
            for j in ordered
            if _is_number(j.progress.get(key))
        ]
        lines += _family(name, "gauge", help_, samples)
    lines += _family(
        "sftjob_operator_api_writes_total",
        "counter",
        "API writes the operator made, by verb and resource.",
        _by_request(counters.api_writes),
    )
    lines += _family(
        "sftjob_operator_api_throttled_total",
        "counter",
        "Requests the apiserver throttled (429) and the operator retried after its "
        "Retry-After, by verb and resource.",
        _by_request(counters.api_throttled),
    )
    lines += _family(
        "sftjob_operator_phase_transitions_total",
        "counter",
        "SFTJob phase changes the operator wrote, by the phase entered.",
        (({"phase": p}, float(n)) for p, n in sorted(counters.transitions.items())),
    )
    lines += _family(
        "sftjob_operator_child_create_failures_total",
        "counter",
        "Failed attempts to create an SFTJob's children (quota, admission, conflicts).",
        [({}, float(counters.create_failures))],
    )
    lines += leader_family(True)
    return "\n".join(lines) + "\n"
