"""Progress into status, restarts with resume, checkpoint storage: the operator on kwok."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_trainer.progress_k8s import PROGRESS_KEY, PROGRESS_LABEL, PROGRESS_LABEL_VALUE

from tests.operator_fixtures import (
    COMPLETE_DELAY,
    QUICK_RESTART,
    OperatorProcess,
    apply,
    children,
    condition,
    enforced_quota,
    phase_is,
    printer_row,
    sftjob,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration
FAIL = "devcluster.sftjob.dev/fail"  # kwok fails the pod, with this termination message
CPU = {"gpusPerNode": 0}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report(devcluster: Any, namespace: str, job: str, record: Any) -> None:
    """What the trainer does: merge-patch the progress record of the job's config ConfigMap,
    with the label the operator's progress watch selects."""
    text = record if isinstance(record, str) else json.dumps(record)
    body = {
        "metadata": {"labels": {PROGRESS_LABEL: PROGRESS_LABEL_VALUE}},
        "data": {PROGRESS_KEY: text},
    }
    devcluster.kubectl(
        "patch", "cm", f"{job}-config", "-n", namespace, "--type=merge", "-p", json.dumps(body)
    )  # fmt: skip


def record(step: int, loss: float, **extra: Any) -> dict[str, Any]:
    return {
        "event": "progress",
        "time": now(),
        "step": step,
        "max_steps": 20,
        "loss": loss,
        "learning_rate": 0.001,
        "epoch": step / 20,
        "tokens_per_second": 100.0,
        "eta_seconds": 20.0 - step,
        "percent": 100.0 * step / 20,
        "final": False,
        "last_checkpoint": None,
        **extra,
    }


def job_names(kube: Any, namespace: str, name: str) -> list[str]:
    return [j.metadata.name for j in children(kube, namespace, name, "Job")]


def progress_step(devcluster: Any, namespace: str, name: str, step: int) -> dict[str, Any] | None:
    st = status(devcluster, namespace, name)
    return st if (st.get("progress") or {}).get("step") == step else None


def test_progress_is_validated_and_copied_into_status(
    devcluster: Any, operator: OperatorProcess, namespace: str
) -> None:
    apply(devcluster, sftjob("watched", namespace, annotations={COMPLETE_DELAY: "600s"}, **CPU))
    running = wait_for("Running", lambda: phase_is(devcluster, namespace, "watched", "Running"))

    report(devcluster, namespace, "watched", record(5, 2.5, last_checkpoint="checkpoint-5"))
    st = wait_for("step 5", lambda: progress_step(devcluster, namespace, "watched", 5))
    assert st["progress"]["loss"] == 2.5 and st["progress"]["percent"] == 25.0
    assert st["progress"]["maxSteps"] == 20 and st["progress"]["learningRate"] == 0.001
    assert st["progress"]["lossHistory"] == [{"step": 5, "loss": 2.5}]
    assert st["lastCheckpoint"] == "checkpoint-5"
    assert printer_row(devcluster, namespace, "watched")["PROGRESS"] == "25"

    # Garbage, a stale record (from before this attempt's Job) and an oversized one are
    # dropped; the next good record still arrives, and phase/conditions are untouched.
    report(devcluster, namespace, "watched", "{not json")
    report(devcluster, namespace, "watched", record(6, float("inf")))
    report(devcluster, namespace, "watched", {**record(7, 9.0), "time": "2000-01-01T00:00:00Z"})
    report(devcluster, namespace, "watched", {**record(8, 9.0), "pad": "x" * 8000})
    report(devcluster, namespace, "watched", record(10, 1.5))
    st = wait_for("step 10", lambda: progress_step(devcluster, namespace, "watched", 10))
    assert st["progress"]["lossHistory"] == [{"step": 5, "loss": 2.5}, {"step": 10, "loss": 1.5}]
    assert st["lastCheckpoint"] == "checkpoint-5"
    assert st["phase"] == "Running"
    assert st["conditions"] == running["conditions"]

    # The same numbers, as Prometheus scrapes them from the operator.
    metrics = operator.scrape()
    series = f'{{namespace="{namespace}",sftjob="watched"}}'
    assert metrics[f"sftjob_progress_step{series}"] == 10
    assert metrics[f"sftjob_loss{series}"] == 1.5
    assert metrics[f"sftjob_progress_percent{series}"] == 50
    assert metrics[f'sftjob_jobs{{namespace="{namespace}",phase="Running"}}'] == 1
    assert metrics['sftjob_operator_api_writes_total{verb="POST",resource="jobs"}'] >= 1
    assert metrics['sftjob_operator_phase_transitions_total{phase="Running"}'] >= 1


def test_a_failed_attempt_restarts_until_the_backoff_limit(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    pods = {FAIL: "disk on fire", COMPLETE_DELAY: "1s"}
    apply(
        devcluster,
        sftjob(
            "flaky", namespace, nodes=2, backoffLimit=1, annotations=pods, **QUICK_RESTART, **CPU
        ),
    )
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "flaky", "Failed"), 120)
    assert (st["attempt"], st["restarts"]) == (2, 1)
    failed = condition(st, "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert "disk on fire" in st["message"] and "spec.backoffLimit (1)" in st["message"]
    assert condition(st, "Restarting")["status"] == "False"
    wait_for(
        "only the last attempt's Job",
        lambda: job_names(kube, namespace, "flaky") == ["flaky-a2"],
    )
    events = devcluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=flaky",
        "-o", "jsonpath={range .items[*]}{.reason}|{.message}{'\\n'}{end}",
    ).stdout  # fmt: skip
    restarting = [e for e in events.splitlines() if e.startswith("Restarting|")]
    assert len(restarting) == 1, events
    assert "disk on fire" in restarting[0] and "attempt 2" in restarting[0]
    assert "BackoffLimitExceeded|" in events


def test_a_missing_claim_is_said_and_the_job_starts_once_it_exists(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str, tmp_path: Any
) -> None:
    """GitOps may apply the claim after the SFTJob: the pods wait, as pods do, and the
    CheckpointStorage condition says the claim is missing until they run on it."""
    job = sftjob(
        "later",
        namespace,
        storage={"claimName": "later"},
        annotations={COMPLETE_DELAY: "600s"},
        **CPU,
    )
    apply(devcluster, job)

    def missing() -> dict[str, Any] | None:
        st = status(devcluster, namespace, "later")
        return st if condition(st, "CheckpointStorage").get("reason") == "ClaimNotFound" else None

    st = wait_for("the ClaimNotFound condition", missing)
    assert st["phase"] == "Pending"
    message = condition(st, "CheckpointStorage")["message"]
    assert message.startswith("spec.storage.claimName: there is no PersistentVolumeClaim later")
    assert children(kube, namespace, "later", "Job")  # the pods wait for the claim

    volume = f"{namespace}-later"
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "later", "namespace": namespace},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": volume,
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "hostPath": {"path": str(tmp_path), "type": "Directory"},
            "claimRef": {"namespace": namespace, "name": "later"},
        },
    }
    try:
        apply(devcluster, pv, claim)
        st = wait_for("Running", lambda: phase_is(devcluster, namespace, "later", "Running"))

        def found() -> dict[str, Any] | None:
            found = condition(status(devcluster, namespace, "later"), "CheckpointStorage")
            return found if found.get("reason") == "Claim" else None

        storage = wait_for("CheckpointStorage: Claim", found)
        assert storage["status"] == "True"
        assert storage["message"] == "checkpoints are kept on claim later"
    finally:
        devcluster.kubectl("delete", "pv", volume, "--wait=false", check=False)


def test_a_single_node_claim_is_refused_for_several_nodes(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "single", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    apply(devcluster, claim)
    apply(devcluster, sftjob("wide", namespace, nodes=2, storage={"claimName": "single"}, **CPU))
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "wide", "Failed"))
    storage = condition(st, "CheckpointStorage")
    assert (storage["status"], storage["reason"]) == ("False", "ClaimNotShared")
    assert "spec.storage.claimName" in st["message"] and "ReadWriteMany" in st["message"]
    assert children(kube, namespace, "wide", "Job") == []

    apply(
        devcluster,
        sftjob("scratch", namespace, nodes=2, annotations={COMPLETE_DELAY: "600s"}, **CPU),
    )
    st = wait_for("Running", lambda: phase_is(devcluster, namespace, "scratch", "Running"))
    assert condition(st, "CheckpointStorage")["reason"] == "EmptyDir"


def test_a_missing_claim_of_several_nodes_holds_the_job_back_until_it_is_checked(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """A GitOps sync may apply a multi-node job's claim after the SFTJob. No pod is created
    until the claim exists: a ReadWriteOnce claim is then refused as it is when it came
    first, before any pod waits on a volume one node can mount; a ReadWriteMany one starts
    the job."""

    def claim(name: str, mode: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"accessModes": [mode], "resources": {"requests": {"storage": "1Gi"}}},
        }

    def phase_and_reason(st: dict[str, Any]) -> tuple[Any, Any]:
        return st.get("phase"), condition(st, "Running").get("reason")

    def waiting(name: str) -> dict[str, Any] | None:
        st = status(devcluster, namespace, name)
        return st if phase_and_reason(st) == ("Pending", "ClaimNotFound") else None

    apply(devcluster, sftjob("single", namespace, nodes=2, storage={"claimName": "one"}, **CPU))
    apply(devcluster, sftjob("shared", namespace, nodes=2, storage={"claimName": "many"}, **CPU))
    for name, claim_name in (("single", "one"), ("shared", "many")):
        st = wait_for(f"{name} waiting for its claim", lambda name=name: waiting(name))
        assert st["message"].startswith(
            f"spec.storage.claimName: there is no PersistentVolumeClaim {claim_name} "
        )
        assert "the operator creates the 2 pods once it exists" in st["message"]
        assert condition(st, "CheckpointStorage")["reason"] == "ClaimNotFound"
        assert children(kube, namespace, name, "Job") == []
    events = devcluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=single",
        "-o", "jsonpath={range .items[*]}{.type}|{.reason}{'\\n'}{end}",
    ).stdout  # fmt: skip
    assert "Warning|ClaimNotFound" in events.splitlines(), events

    apply(devcluster, claim("one", "ReadWriteOnce"), claim("many", "ReadWriteMany"))
    st = wait_for("single Failed", lambda: phase_is(devcluster, namespace, "single", "Failed"))
    storage = condition(st, "CheckpointStorage")
    assert (storage["status"], storage["reason"]) == ("False", "ClaimNotShared")
    assert st["message"].startswith("spec.storage.claimName: claim one allows ReadWriteOnce")
    assert children(kube, namespace, "single", "Job") == []

    def created() -> dict[str, Any] | None:
        st = status(devcluster, namespace, "shared")
        return st if condition(st, "ChildrenCreated").get("status") == "True" else None

    st = wait_for("shared's children", created)
    assert phase_and_reason(st)[1] != "ClaimNotFound"
    assert condition(st, "CheckpointStorage")["reason"] == "Claim"
    assert children(kube, namespace, "shared", "Job")


def test_restarts_survive_an_operator_restart_without_double_counting(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    pods = {FAIL: "flaky disk", COMPLETE_DELAY: "4s"}
    apply(
        devcluster,
        sftjob("steady", namespace, backoffLimit=3, annotations=pods, **QUICK_RESTART, **CPU),
    )

    def first_restart_reported() -> bool:
        # Its Event is posted after the status write: a kill in between would lose it,
        # which is not what this test is about.
        if status(devcluster, namespace, "steady").get("restarts") != 1:
            return False
        events = devcluster.kubectl(
            "get", "events", "-n", namespace, "--field-selector",
            "involvedObject.name=steady,reason=Restarting", "-o", "name",
        ).stdout  # fmt: skip
        return bool(events.strip())

    wait_for("the first restart and its Event", first_restart_reported, timeout=60)
    operator.kill()  # no cleanup, as when the operator's node dies
    operator.start()
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "steady", "Failed"), 180)
    assert (st["attempt"], st["restarts"]) == (4, 3)
    assert condition(st, "Failed")["reason"] == "BackoffLimitExceeded"
    wait_for(
        "only the last attempt's Job",
        lambda: job_names(kube, namespace, "steady") == ["steady-a4"],
    )
    reasons = devcluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=steady",
        "-o", "jsonpath={range .items[*]}{.reason}{' '}{.count}{'\\n'}{end}",
    ).stdout  # fmt: skip
    # kopf posts one Event per restart (count unset); a recorder would aggregate (count n).
    counts = [
        int((line.split()[1:] or ["1"])[0])
        for line in reasons.splitlines()
        if line.split()[:1] == ["Restarting"]
    ]
    assert sum(counts) == 3, reasons


def test_an_attempt_that_failed_while_the_operator_was_down_is_restarted(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    pods = {FAIL: "failed unwatched", COMPLETE_DELAY: "3s"}
    apply(
        devcluster,
        sftjob("unwatched", namespace, backoffLimit=1, annotations=pods, **QUICK_RESTART, **CPU),
    )
    wait_for("the first attempt", lambda: children(kube, namespace, "unwatched", "Job"))
    operator.kill()
    try:
        wait_for(
            "the first attempt to fail with no operator running",
            lambda: any(
                c.type == "Failed" and c.status == "True"
                for job in children(kube, namespace, "unwatched", "Job")
                for c in job.status.conditions or ()
            ),
            timeout=60,
        )
    finally:
        operator.start()
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "unwatched", "Failed"), 120)
    assert (st["attempt"], st["restarts"]) == (2, 1)
    assert "failed unwatched" in st["message"]


def refuse_the_second_attempt(
    devcluster: Any, kube: Any, namespace: str, name: str, quota: dict[str, str], reason: str
) -> dict[str, Any]:
    """An SFTJob whose first attempt fails on its own, and a quota (`refused`) applied once
    that attempt's pod exists, which refuses what the second attempt creates: the status
    once attempt 2 reports `reason`."""
    pods = {FAIL: "disk on fire", COMPLETE_DELAY: "5s"}
    apply(
        devcluster,
        sftjob(
            name,
            namespace,
            restartBackoff={"initialSeconds": 1},
            podTemplate={"annotations": pods},
            **CPU,
        ),
    )
    wait_for("attempt 1's pod", lambda: children(kube, namespace, name, "Pod"))
    enforced_quota(devcluster, namespace, "refused", quota)

    def refused() -> dict[str, Any] | None:
        st = status(devcluster, namespace, name)
        found = condition(st, "Running").get("reason")
        return st if st.get("attempt") == 2 and found == reason else None

    st: dict[str, Any] = wait_for(f"attempt 2's {reason}", refused, timeout=120)
    assert "exceeded quota: refused" in st["message"], st["message"]
    return st


def test_a_new_attempt_whose_pods_are_refused_says_so_instead_of_restarting(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """After a restart, the new attempt's own problem (here a quota refuses its pods) shows
    as Pending with its reason, so it can stall as the first attempt's would, instead of
    `Restarting` with the old failure's message for as long as it lasts."""
    st = refuse_the_second_attempt(
        devcluster, kube, namespace, "again", {"pods": "0"}, "PodCreateFailed"
    )
    assert (st["phase"], st["restarts"]) == ("Pending", 1)


def test_a_new_attempt_whose_job_is_refused_is_created_once_the_refusal_is_lifted(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    """A restart claims its attempt before creating the Job (so that no event recreates it
    meanwhile). When the apiserver refuses that Job, the attempt must still be retried, as
    the first attempt's is, and not wait for an operator restart."""
    refuse_the_second_attempt(
        devcluster, kube, namespace, "refused", {"count/jobs.batch": "0"}, "CreateFailed"
    )
    devcluster.kubectl("delete", "resourcequota", "refused", "-n", namespace)
    wait_for(
        "attempt 2's Job",
        lambda: (
            "refused-a2" in [j.metadata.name for j in children(kube, namespace, "refused", "Job")]
        ),
        timeout=90,
    )
