"""Node loss: a node running one rank of a 4-node job is deleted.

The job runs on its own kwok nodes (tainted, so no other test's pods land there), one
rank per node, plus a spare node as a cloud's autoscaler would bring. After the trainer
has reported a checkpoint, the Node of rank 2 is deleted. The pod garbage collector fails
the orphaned pod with a DisruptionTarget condition, the Job's pod failure policy fails
the whole Job, and the operator restarts the whole attempt (gang): every rank gets a new
pod, the status says why and which checkpoint the attempt resumes from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sftjob_devcluster.nodes import NodeShape, node_manifest
from sftjob_operator.api.identity import LABEL_ATTEMPT

from tests.integration.test_operator_restart import record, report
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

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

RANKS = 4
POOL_LABEL = "sftjob.dev/fault-pool"
TAINT = {"key": POOL_LABEL, "value": "node-loss", "effect": "NoSchedule"}
# The pod garbage collector waits 40 s (its quarantine) before it fails an orphaned pod.
PODGC_QUARANTINE_S = 40


@pytest.fixture
def pool(devcluster: Any) -> Iterator[list[str]]:
    """RANKS + 1 kwok GPU nodes of our own; removed afterwards."""
    shape = NodeShape(name_prefix="kwok-loss-")
    nodes = []
    for i in range(RANKS + 1):
        node = node_manifest(shape, i)
        node["metadata"]["labels"][POOL_LABEL] = "node-loss"
        node["spec"] = {"taints": [TAINT]}
        nodes.append(node)
    devcluster.kubectl("apply", "-f", "-", input=json.dumps({"kind": "List", "apiVersion": "v1", "items": nodes}))  # fmt: skip
    names = [n["metadata"]["name"] for n in nodes]
    try:
        yield names
    finally:
        devcluster.kubectl("delete", "node", *names, "--ignore-not-found", "--wait=false")


def test_losing_a_node_restarts_the_whole_attempt_which_resumes(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str, pool: list[str]
) -> None:
    template = {
        "nodeSelector": {POOL_LABEL: "node-loss"},
        "tolerations": [{"key": POOL_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
        "annotations": {COMPLETE_DELAY: "600s"},  # kwok keeps the ranks Running
    }
    apply(
        devcluster,
        sftjob(
            "gang",
            namespace,
            nodes=RANKS,
            gpusPerNode=8,
            restartBackoff={"initialSeconds": 1},
            podTemplate=template,
        ),
    )

    def all_running() -> list[Any] | None:
        pods = children(kube, namespace, "gang", "Pod")
        running = [p for p in pods if p.status.phase == "Running"]
        return running if len(running) == RANKS else None

    pods = wait_for("4 ranks running", all_running)
    assert len({p.spec.node_name for p in pods}) == RANKS  # one rank per node
    wait_for("Running", lambda: phase_is(devcluster, namespace, "gang", "Running"))
    report(devcluster, namespace, "gang", record(5, 2.0, last_checkpoint="checkpoint-5"))
    wait_for("the checkpoint in status", lambda: status(devcluster, namespace, "gang").get("lastCheckpoint"))  # fmt: skip

    rank2 = next(
        p for p in pods if p.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "2"
    )
    first_uids = {p.metadata.uid for p in pods}
    lost = rank2.spec.node_name
    began = time.monotonic()
    devcluster.kubectl("delete", "node", lost, "--wait=false")

    st = wait_for(
        "attempt 2",
        lambda: (s := status(devcluster, namespace, "gang")).get("attempt") == 2 and s,
        timeout=PODGC_QUARANTINE_S + 60,
    )
    took = time.monotonic() - began
    # A lost node is not the job's fault: the restart does not use up spec.backoffLimit.
    assert (st["restarts"], st.get("disruptions")) == (1, 1)
    restarting = condition(st, "Restarting")
    # The reason is recorded: the disruption of the rank's pod, and where it resumes.
    assert "DisruptionTarget" in restarting["message"], restarting
    assert rank2.metadata.name in restarting["message"]
    assert "resuming from checkpoint-5" in restarting["message"]
    assert "not counted against spec.backoffLimit" in restarting["message"]

    def regrouped() -> list[Any] | None:
        current = [
            p for p in children(kube, namespace, "gang", "Pod") if p.status.phase == "Running"
        ]
        return current if len(current) == RANKS else None

    again = wait_for("all 4 ranks running again", regrouped, timeout=60)
    # The whole gang is new: no rank of attempt 1 survives, none is on the lost node.
    assert not first_uids & {p.metadata.uid for p in again}
    assert {p.metadata.labels[LABEL_ATTEMPT] for p in again} == {"2"}
    assert lost not in {p.spec.node_name for p in again}
    assert [j.metadata.name for j in children(kube, namespace, "gang", "Job")] == ["gang-a2"]
    wait_for("Running again", lambda: phase_is(devcluster, namespace, "gang", "Running"))
    print(f"\nnode loss: attempt 2 began {took:.0f}s after the Node was deleted")
