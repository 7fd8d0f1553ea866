"""Preemption through real Kueue with real training on the devcluster's local node.

A low-priority tiny fine-tune trains in a ClusterQueue whose CPU quota fits one job. A
high-priority one arrives: Kueue preempts the low one by suspending its Job, its pod gets
SIGTERM and the trainer writes a checkpoint before it stops. The SFTJob shows Preempted,
neither Failed nor restarted. When the high-priority job is done, Kueue admits the low
one again, and its trainer resumes from that checkpoint and succeeds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sftjob_trainer
from sftjob_devcluster.kueue import priority_classes, queue_manifests
from sftjob_devcluster.nodeagent.config import LOCAL_NODE_LABEL, container_log_path
from sftjob_operator.api.paths import STORAGE_MOUNT
from sftjob_operator.render.meta import KUEUE_PRIORITY_LABEL as PRIORITY_LABEL
from sftjob_operator.render.meta import KUEUE_QUEUE_LABEL as QUEUE_LABEL

from tests.e2e.test_tiny_cpu import TRAINING_TIMEOUT, tiny_job
from tests.operator_fixtures import apply, children, condition, phase_is, status, wait_for

pytestmark = pytest.mark.e2e
GRACE_S = 60
# The tiny model trains ~100 steps/s on an idle core: enough steps that the low job is
# still training when the preemption lands, few enough that its resumed run ends soon.
LOW_STEPS = 3000
PREEMPT_AFTER_STEP = 20
HIGH_STEPS = 50


@contextlib.contextmanager
def one_job_queue(kueue: Any, namespace: str) -> Iterator[str]:
    """A ClusterQueue on the local node with the CPU of one tiny job (2 CPUs), which
    preempts lower priorities within itself, and two WorkloadPriorityClasses."""
    name = namespace
    objects = queue_manifests(name, namespace, {"cpu": "3", "memory": "100Ti"},
                              {LOCAL_NODE_LABEL: "true"})  # fmt: skip
    objects[1]["spec"]["preemption"] = {"withinClusterQueue": "LowerPriority"}
    objects += priority_classes(namespace, {"low": 100, "high": 1000})
    apply(kueue, *objects)
    try:
        yield name
    finally:
        for o in objects:
            if o["kind"] != "LocalQueue":  # namespaced: goes with the namespace
                kueue.kubectl(
                    "delete", f"{o['kind'].lower()}.kueue.x-k8s.io", o["metadata"]["name"],
                    "--wait=false", check=False,
                )  # fmt: skip


def queued_job(namespace: str, name: str, queue: str, priority: str, steps: int) -> Any:
    job = tiny_job(
        namespace,
        name,
        terminationGracePeriodSeconds=GRACE_S,
        # Its own directory on the shared claim; no periodic checkpoint, so the only one
        # is the one written for SIGTERM.
        sftConfig={"max_steps": steps, "save_steps": 10 * steps, "logging_steps": 1,
                   "output_dir": name},
    )  # fmt: skip
    job["metadata"]["labels"] = {QUEUE_LABEL: queue, PRIORITY_LABEL: f"{namespace}-{priority}"}
    # The local node runs the pods with the venv's Python: point it at the trainer under
    # test (a worktree's, when this is not the venv's editable checkout).
    trainer_root = Path(sftjob_trainer.__file__).resolve().parents[1]
    job["spec"]["env"].append({"name": "PYTHONPATH", "value": str(trainer_root)})
    return job


def test_a_preempted_fine_tune_checkpoints_and_resumes_when_admitted_again(
    kueue: Any, operator: Any, kube: Any, namespace: str, demo_claims: Path, local_node: Path
) -> None:
    with one_job_queue(kueue, namespace) as queue:
        apply(kueue, queued_job(namespace, "low", queue, "low", LOW_STEPS))

        def training() -> Any:
            st = status(kueue, namespace, "low")
            step = (st.get("progress") or {}).get("step") or 0
            return st if st.get("phase") == "Running" and step >= PREEMPT_AFTER_STEP else None

        wait_for(f"low training past step {PREEMPT_AFTER_STEP}", training, TRAINING_TIMEOUT)
        (first_pod,) = children(kube, namespace, "low", "Pod")
        preempted_at = time.monotonic()
        apply(kueue, queued_job(namespace, "high", queue, "high", HIGH_STEPS))

        st = wait_for("low Preempted", lambda: phase_is(kueue, namespace, "low", "Preempted"), 60)
        assert (st["restarts"], st["attempt"]) == (0, 1)
        assert condition(st, "Failed") == {} and condition(st, "Admitted")["status"] == "False"
        assert "preempted" in st["message"].lower()

        # The checkpoint written on SIGTERM, named in status, the only one on the storage.
        def checkpointed() -> str | None:
            name = status(kueue, namespace, "low").get("lastCheckpoint")
            on_storage = name and (demo_claims / "low" / name / "trainer_state.json").is_file()
            return name if on_storage else None

        checkpoint = wait_for("the checkpoint written on SIGTERM", checkpointed, GRACE_S + 30)
        saved_step = int(checkpoint.split("-")[1])
        assert saved_step >= PREEMPT_AFTER_STEP
        assert [p.name for p in (demo_claims / "low").glob("checkpoint-*")] == [checkpoint]
        took = time.monotonic() - preempted_at

        wait_for("high Succeeded",
                 lambda: phase_is(kueue, namespace, "high", "Succeeded"), TRAINING_TIMEOUT)  # fmt: skip
        st = wait_for("low Succeeded",
                      lambda: phase_is(kueue, namespace, "low", "Succeeded"), TRAINING_TIMEOUT)  # fmt: skip
        assert (st["restarts"], st["attempt"]) == (0, 1)  # resumed, not restarted
        assert st["progress"]["step"] == LOW_STEPS

        # The pod Kueue's second admission started resumed from the SIGTERM checkpoint.
        pods = [
            p
            for p in children(kube, namespace, "low", "Pod")
            if p.metadata.name != first_pod.metadata.name
        ]
        assert pods, "no pod after the re-admission"
        log = container_log_path(
            local_node, namespace, pods[-1].metadata.name, pods[-1].spec.containers[0].name
        ).read_text()
        assert f"resuming from {STORAGE_MOUNT}/low/{checkpoint}" in log, log[-3000:]
        print(f"\nKueue preemption at step >= {PREEMPT_AFTER_STEP}: {checkpoint} written on "
              f"SIGTERM, {took:.1f}s after the high-priority job arrived; resumed from step "
              f"{saved_step}, Succeeded at {LOW_STEPS} with restarts 0")  # fmt: skip
