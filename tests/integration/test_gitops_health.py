"""What GitOps tools make of real SFTJobs: kstatus (Flux, `kubectl wait`) and Argo CD's health.

Each SFTJob is driven into one phase on the devcluster; its live object then goes through
kstatus itself (sigs.k8s.io/cli-utils, the `kstatus` Go tool) and through
hack/argocd/health.lua in the Lua interpreter Argo CD embeds (the `argolua` Go tool).

With SFTJOB_CAPTURE_ARGOCD_TESTDATA=1 the objects are also written to hack/argocd/testdata/,
the inputs of hack/argocd/health_test.yaml (tests/integration/test_argocd_health_lua.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_devcluster.gotools import run_tool

from tests.integration.test_operator_restart import FAIL, record, report
from tests.operator_fixtures import (
    COMPLETE_DELAY,
    OperatorProcess,
    apply,
    condition,
    get_sft,
    phase_is,
    sftjob,
    status,
    wait_for,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HEALTH_LUA = ROOT / "hack" / "argocd" / "health.lua"
TESTDATA = HEALTH_LUA.parent / "testdata"
LONG = {COMPLETE_DELAY: "600s"}
FLAKY = {FAIL: "disk on fire", COMPLETE_DELAY: "1s"}
CPU = {"gpusPerNode": 0}


def kstatus(*objects: dict[str, Any]) -> list[dict[str, str]]:
    return run_tool("kstatus", list(objects))


def argocd_health(*objects: dict[str, Any]) -> list[dict[str, str]]:
    return run_tool("argolua", list(objects), str(HEALTH_LUA))


def capture(name: str, obj: dict[str, Any]) -> None:
    """Keep a live object as Argo CD test data (without the server's bookkeeping)."""
    if not os.environ.get("SFTJOB_CAPTURE_ARGOCD_TESTDATA"):
        return
    meta = obj["metadata"]
    for key in ("managedFields", "uid", "resourceVersion"):
        meta.pop(key, None)
    annotations = meta.pop("annotations", {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if annotations:
        meta["annotations"] = annotations
    meta["namespace"] = "ml"
    TESTDATA.mkdir(parents=True, exist_ok=True)
    (TESTDATA / f"{name}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))


def live(devcluster: Any, namespace: str, name: str) -> dict[str, Any]:
    obj = get_sft(devcluster, namespace, name)
    assert obj is not None, name
    return obj


def first_seen(
    devcluster: Any, namespace: str, name: str, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first version of the object that is `wanted`, from a watch started before it
    exists: a transient state (one status write) that polling could miss."""
    args = [
        "kubectl", f"--kubeconfig={devcluster.kubeconfig}", "get", "sftjob", "-n", namespace,
        f"--field-selector=metadata.name={name}", "--watch", "--output-watch-events",
        "-o", "json", "--request-timeout=150s",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    decoder = json.JSONDecoder()
    buffer = ""
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            buffer += line
            try:
                event, end = decoder.raw_decode(buffer.lstrip())
            except json.JSONDecodeError:
                continue
            buffer = buffer.lstrip()[end:]
            obj = event.get("object") or {}
            if obj.get("kind") == "SFTJob" and wanted(obj):
                return dict(obj)
    finally:
        proc.kill()
        proc.wait()
    raise AssertionError(f"{name} never reached the state the test waits for")


def phase_of(obj: dict[str, Any]) -> str | None:
    return (obj.get("status") or {}).get("phase")


def reason_of(obj: dict[str, Any]) -> str | None:
    return condition(obj.get("status") or {}, "Running").get("reason")


def is_stalled(obj: dict[str, Any]) -> bool:
    return condition(obj.get("status") or {}, "Stalled").get("status") == "True"


def stalled(devcluster: Any, namespace: str) -> dict[str, Any] | None:
    obj = live(devcluster, namespace, "huge")
    return obj if is_stalled(obj) else None


def test_kstatus_and_argocd_read_every_phase(
    devcluster: Any, operator: OperatorProcess, namespace: str
) -> None:
    with ThreadPoolExecutor(2) as pool:
        restarting = pool.submit(
            first_seen, devcluster, namespace, "flaky", lambda o: phase_of(o) == "Restarting"
        )
        pending = pool.submit(
            first_seen, devcluster, namespace, "huge",
            lambda o: reason_of(o) == "Unschedulable" and not is_stalled(o),
        )  # fmt: skip
        time.sleep(1)  # the watches are listening
        apply(
            devcluster,
            sftjob("running", namespace, annotations=LONG, **CPU),
            sftjob("succeeded", namespace, **CPU),
            sftjob("refused", namespace, env=[{"name": "MASTER_ADDR", "value": "x"}], **CPU),
            sftjob("flaky", namespace, backoffLimit=1, annotations=FLAKY, **CPU),
            sftjob("huge", namespace, gpusPerNode=16),
            sftjob("paused", namespace, suspend=True, **CPU),
            sftjob("queued", namespace, labels={"kueue.x-k8s.io/queue-name": "q"}, **CPU),
        )
        seen: dict[str, dict[str, Any]] = {
            "restarting": restarting.result(timeout=180),
            "unschedulable": pending.result(timeout=180),
        }

    # `kubectl wait --for=condition=Ready` returns once the job has succeeded.
    waited = devcluster.kubectl(
        "wait", "--for=condition=Ready", "sftjob/succeeded", "-n", namespace, "--timeout=120s",
        check=False, timeout=150,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    assert phase_is(devcluster, namespace, "succeeded", "Succeeded")
    seen["succeeded"] = live(devcluster, namespace, "succeeded")

    wait_for("Running", lambda: phase_is(devcluster, namespace, "running", "Running"))
    report(devcluster, namespace, "running", record(5, 2.5))
    wait_for(
        "step 5",
        lambda: (status(devcluster, namespace, "running").get("progress") or {}).get("step") == 5,
    )
    seen["running"] = live(devcluster, namespace, "running")

    wait_for("Failed", lambda: phase_is(devcluster, namespace, "flaky", "Failed"), 120)
    seen["backoff-limit-exceeded"] = live(devcluster, namespace, "flaky")
    wait_for("refused", lambda: phase_is(devcluster, namespace, "refused", "Failed"))
    seen["invalid-spec"] = live(devcluster, namespace, "refused")
    # The operator fixture's --unschedulable-grace is short: the job then stalls, Pending.
    seen["unschedulable-stalled"] = wait_for("Stalled", lambda: stalled(devcluster, namespace), 60)

    wait_for("Suspended", lambda: phase_is(devcluster, namespace, "paused", "Suspended"))
    seen["suspended"] = live(devcluster, namespace, "paused")
    wait_for("queued", lambda: phase_is(devcluster, namespace, "queued", "Queued"))
    seen["queued"] = live(devcluster, namespace, "queued")

    for name, obj in seen.items():
        assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"], name
        capture(name, json.loads(json.dumps(obj)))

    names = list(seen)
    verdicts = dict(zip(names, kstatus(*seen.values()), strict=True))
    healths = dict(zip(names, argocd_health(*seen.values()), strict=True))
    expected = {
        # name: (kstatus, Argo CD health)
        "succeeded": ("Current", "Healthy"),
        "running": ("InProgress", "Progressing"),
        "restarting": ("InProgress", "Progressing"),
        "backoff-limit-exceeded": ("Failed", "Degraded"),
        "invalid-spec": ("Failed", "Degraded"),
        "unschedulable": ("InProgress", "Progressing"),
        "unschedulable-stalled": ("Failed", "Degraded"),
        "suspended": ("InProgress", "Suspended"),
        "queued": ("InProgress", "Suspended"),
    }
    got = {n: (verdicts[n].get("status"), healths[n].get("status")) for n in names}
    assert got == expected, (verdicts, healths)

    # Argo CD's message carries the phase, the progress and the reason.
    assert healths["running"]["message"].startswith("Running, step 5/20 (25%): ")
    assert healths["backoff-limit-exceeded"]["message"].startswith(
        "Failed (BackoffLimitExceeded): "
    )
    assert "spec.env[0].name" in healths["invalid-spec"]["message"]
    assert healths["unschedulable-stalled"]["message"].startswith(
        "Pending (Unschedulable), stalled: "
    )
    # No Kueue runs here: the Job waits for a Workload that never comes.
    assert healths["queued"]["message"].startswith("Queued (WaitingForWorkload): ")
    # kstatus names the reason of a failure: the Stalled condition's message.
    assert "disk on fire" in verdicts["backoff-limit-exceeded"]["message"]


def test_a_finished_job_still_observes_each_generation(
    devcluster: Any, operator: OperatorProcess, namespace: str
) -> None:
    """A change of a mutable field (env) after the end: the status keeps its phase but
    observes the new generation, so kstatus does not report InProgress forever."""
    apply(devcluster, sftjob("done", namespace, **CPU))
    wait_for("Succeeded", lambda: phase_is(devcluster, namespace, "done", "Succeeded"), 120)
    patch = {"spec": {"env": [{"name": "NOTE", "value": "edited after the end"}]}}
    devcluster.kubectl(
        "patch", "sftjob", "done", "-n", namespace, "--type=merge", "-p", json.dumps(patch)
    )

    def observed() -> dict[str, Any] | None:
        obj = live(devcluster, namespace, "done")
        generation = obj["metadata"]["generation"]
        return obj if generation > 1 and obj["status"]["observedGeneration"] == generation else None

    obj = wait_for("the new generation observed", observed, 30)
    assert obj["status"]["phase"] == "Succeeded"
    (verdict,) = kstatus(obj)
    assert verdict["status"] == "Current"
