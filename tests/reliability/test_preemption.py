"""Preemption and eviction: a trainer told to stop checkpoints first, and the next
attempt resumes from that checkpoint.

A tiny job really trains on the devcluster's local node with no periodic checkpoint.
Mid-run its pod is evicted through the Eviction API, as a node drain or a preempting
scheduler does: the pod gets SIGTERM and its terminationGracePeriodSeconds (from the
SFTJob's spec). The checkpoint on the storage must be the one written for the signal,
status must name it, and attempt 2 must start training from its step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import sftjob_trainer

from tests.e2e.test_tiny_cpu import TRAINING_TIMEOUT, tiny_job
from tests.operator_fixtures import apply, children, condition, status, wait_for
from tests.reliability.scale import is_full, pick

# Two attempts of real training on the local node cost minutes on a small machine, more
# than the CI subset's budget: the full run has it, CI has tests/trainer/test_train_sigterm.py
# (the same checkpoint on SIGTERM, without the cluster).
pytestmark = [
    pytest.mark.reliability,
    pytest.mark.e2e,
    pytest.mark.skipif(not is_full(), reason="full scale only (make reliability)"),
]

GRACE_S = 60
# Enough steps that the run is still training when the eviction lands, however fast.
MAX_STEPS = 100_000
EVICT_AFTER_STEP = pick(ci=5, full=20)


def evict(kube: Any, namespace: str, pod: str) -> None:
    from kubernetes import client

    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod, namespace=namespace))
    client.CoreV1Api(kube).create_namespaced_pod_eviction(pod, namespace, body)


def test_an_evicted_trainer_checkpoints_and_the_next_attempt_resumes_from_it(
    devcluster: Any, operator: Any, kube: Any, namespace: str, demo_claims: Path
) -> None:
    sft = {"max_steps": MAX_STEPS, "save_steps": 10 * MAX_STEPS, "logging_steps": 1}
    job = tiny_job(
        namespace,
        "evicted",
        terminationGracePeriodSeconds=GRACE_S,
        restartBackoff={"initialSeconds": 1},
        sftConfig=sft,
    )
    # The local node runs the pods with the venv's Python: point it at the trainer under
    # test (a worktree's, when this is not the venv's editable checkout).
    trainer_root = Path(sftjob_trainer.__file__).resolve().parents[1]
    job["spec"]["env"].append({"name": "PYTHONPATH", "value": str(trainer_root)})
    apply(devcluster, job)

    def training() -> Any:
        st = status(devcluster, namespace, "evicted")
        step = (st.get("progress") or {}).get("step") or 0
        return st if st.get("phase") == "Running" and step >= EVICT_AFTER_STEP else None

    wait_for(f"training past step {EVICT_AFTER_STEP}", training, timeout=TRAINING_TIMEOUT)
    (pod,) = children(kube, namespace, "evicted", "Pod")
    assert pod.spec.termination_grace_period_seconds == GRACE_S
    evicted_at = time.monotonic()
    evict(kube, namespace, pod.metadata.name)

    def restarted() -> Any:
        st = status(devcluster, namespace, "evicted")
        return st if st.get("attempt") == 2 else None

    st = wait_for("attempt 2", restarted, timeout=GRACE_S + 60)
    took = time.monotonic() - evicted_at
    checkpoint = st.get("lastCheckpoint")
    assert checkpoint and checkpoint.startswith("checkpoint-"), st
    step = int(checkpoint.split("-")[1])
    assert step >= EVICT_AFTER_STEP
    saved = demo_claims / checkpoint
    assert (saved / "trainer_state.json").is_file(), sorted(demo_claims.iterdir())
    # The only checkpoint is the one written for the signal (save_steps is never reached).
    assert [p.name for p in demo_claims.glob("checkpoint-*")] == [checkpoint]
    assert (st["restarts"], st.get("disruptions")) == (1, 1)  # not against backoffLimit
    message = condition(st, "Restarting")["message"]
    assert "not counted against spec.backoffLimit" in message
    assert "EvictionByEvictionAPI" in message or "DisruptionTarget" in message, message

    def resumed() -> int | None:
        current = status(devcluster, namespace, "evicted")
        progress = current.get("progress") or {}
        if current.get("attempt") == 2 and progress.get("step") is not None:
            return int(progress["step"])
        return None

    first_step = wait_for("attempt 2 to report progress", resumed, timeout=TRAINING_TIMEOUT)
    assert first_step >= step
    print(f"\neviction at step >= {EVICT_AFTER_STEP}: {checkpoint} on storage, attempt 2 "
          f"after {took:.1f}s, resumed at step {first_step}")  # fmt: skip
    devcluster.kubectl("delete", "sft", "evicted", "-n", namespace, "--wait=false")
