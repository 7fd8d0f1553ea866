"""Stuck training: a NaN loss, or silence past the progress deadline, sets Stalled.

Jobs run on kwok (their pods stay Running); the progress records are written the way the
trainer writes them (tests/integration/test_operator_restart.report), a NaN loss as the
trainer names it (`loss_not_finite`, since JSON has no NaN).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_trainer.progress import progress_record

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
from tests.reliability.scale import pick

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

LONG = {COMPLETE_DELAY: "600s"}
DEADLINE_S = pick(ci=3, full=10)


def stalled(devcluster: Any, namespace: str, name: str, value: str) -> dict[str, Any] | None:
    st = status(devcluster, namespace, name)
    return st if condition(st, "Stalled").get("status") == value else None


def test_a_nan_loss_sets_stalled_until_training_recovers(
    devcluster: Any, operator: OperatorProcess, namespace: str
) -> None:
    apply(devcluster, sftjob("diverged", namespace, gpusPerNode=0, annotations=LONG))
    wait_for("Running", lambda: phase_is(devcluster, namespace, "diverged", "Running"))
    report(devcluster, namespace, "diverged", record(4, 2.0))
    # What the trainer writes for a NaN loss (strict JSON, so no NaN literal).
    nan = progress_record(
        step=5, max_steps=20, epoch=0.25, loss=float("nan"), learning_rate=1e-3, elapsed_s=5.0,
        steps_this_run=5, tokens_this_run=500, final=False, now=datetime.now(UTC),
    )  # fmt: skip
    report(devcluster, namespace, "diverged", json.dumps(nan, allow_nan=False))
    st = wait_for("Stalled", lambda: stalled(devcluster, namespace, "diverged", "True"))
    cond = condition(st, "Stalled")
    assert cond["reason"] == "LossNotFinite"
    assert cond["message"].startswith("the training loss is nan at step 5")
    assert st["phase"] == "Running"  # without failOnStall it only says so
    assert st["progress"]["lossNotFinite"] == "nan" and "loss" not in st["progress"]
    events = devcluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=diverged"
    ).stdout
    assert "LossNotFinite" in events

    report(devcluster, namespace, "diverged", record(6, 1.5))
    st = wait_for("Stalled False", lambda: stalled(devcluster, namespace, "diverged", "False"))
    assert condition(st, "Stalled")["reason"] == "Running"
    assert "lossNotFinite" not in st["progress"]


def test_no_progress_past_the_deadline_fails_the_job_when_asked(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    watchdog = {"progressDeadlineSeconds": DEADLINE_S, "failOnStall": True}
    apply(
        devcluster,
        sftjob("silent", namespace, gpusPerNode=0, watchdog=watchdog, annotations=LONG),
        sftjob("watched", namespace, gpusPerNode=0, annotations=LONG),
    )
    st = wait_for("Failed", lambda: phase_is(devcluster, namespace, "silent", "Failed"), 60)
    assert condition(st, "Stalled")["reason"] == "NoProgress"
    failed = condition(st, "Failed")
    assert failed["reason"] == "NoProgress"
    assert f"progressDeadlineSeconds: {DEADLINE_S}" in failed["message"]
    # Its pods are stopped; a job without a deadline keeps running, never Stalled.
    wait_for("the silent job's pods stopped", lambda: not children(kube, namespace, "silent", "Pod"))  # fmt: skip
    other = status(devcluster, namespace, "watched")
    assert other["phase"] == "Running"
    assert condition(other, "Stalled").get("status") == "False"  # kstatus: not stalled
