"""examples/tiny-cpu.yaml, really trained through the operator on the devcluster's local node."""

from __future__ import annotations

import itertools
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator_fixtures import QUICK_RESTART, apply, condition, status, wait_for
from tests.trainer_tokens import bound_token, configmap_path, pending_pod, request

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
# Real training on a shared 2-core machine: generous, since a stuck job fails the test anyway.
TRAINING_TIMEOUT = 600
EXAMPLE = REPO / "examples" / "tiny-cpu.yaml"


def tiny_job(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    job = yaml.safe_load(EXAMPLE.read_text())
    job["metadata"] = {"name": name, "namespace": namespace}
    sft = spec.pop("sftConfig", {})
    job["spec"].update(spec)
    job["spec"]["sftConfig"].update(sft)
    return dict(job)


def phase_in(devcluster: Any, namespace: str, name: str, *phases: str) -> dict[str, Any] | None:
    st = status(devcluster, namespace, name)
    return st if st.get("phase") in phases else None


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def training_worker(root_pid: int) -> int | None:
    """The first `python -m sftjob_trainer.train` process below root_pid (a rank's
    trainer; not `accelerate launch ... --module sftjob_trainer.train` above it)."""
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        try:
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a == b"-m" and b == b"sftjob_trainer.train" for a, b in itertools.pairwise(cmdline)):
            return pid
        stack.extend(children(pid))
    return None


def running_worker(devcluster: Any, local_node: Path, namespace: str, job: str) -> int | None:
    from sftjob_devcluster.nodeagent import container_pid

    pods = json.loads(
        devcluster.kubectl(
            "get", "pods", "-n", namespace, "-l", f"sftjob.dev/job-name={job}", "-o", "json"
        ).stdout
    )["items"]
    for pod in pods:
        if pod["status"].get("phase") != "Running":
            continue
        container = pod["spec"]["containers"][0]["name"]
        root = container_pid(local_node, pod["metadata"]["uid"], container)
        if root is not None:
            worker = training_worker(root)
            if worker is not None:
                return worker
    return None


def kill_worker_after_first_checkpoint(
    devcluster: Any, local_node: Path, output: Path, namespace: str, job: str
) -> None:
    wait_for(
        "the first complete checkpoint",
        lambda: any((c / "trainer_state.json").exists() for c in output.glob("checkpoint-*")),
        timeout=TRAINING_TIMEOUT,
    )
    worker = wait_for(
        "a running trainer process",
        lambda: running_worker(devcluster, local_node, namespace, job),
        timeout=TRAINING_TIMEOUT,
    )
    os.kill(worker, signal.SIGKILL)


def test_two_nodes_train_with_live_progress(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path
) -> None:
    apply(
        devcluster,
        tiny_job(namespace, "two-nodes", nodes=2, sftConfig={"max_steps": 300, "save_steps": 100}),
    )
    observations: list[tuple[float, float]] = []

    def observe() -> dict[str, Any] | None:
        st = status(devcluster, namespace, "two-nodes")
        progress = st.get("progress") or {}
        if progress.get("percent") is not None and progress.get("loss") is not None:
            seen = (float(progress["percent"]), float(progress["loss"]))
            if not observations or seen != observations[-1]:
                observations.append(seen)
        return st if st.get("phase") in ("Succeeded", "Failed") else None

    final = wait_for("the job to finish", observe, timeout=TRAINING_TIMEOUT)
    assert final["phase"] == "Succeeded", final
    assert final.get("completionTime")
    assert len(observations) >= 3, observations
    percents = [p for p, _ in observations]
    assert percents == sorted(percents) and percents[-1] == 100.0, observations
    assert observations[-1][1] < observations[0][1], observations

    table = devcluster.kubectl("get", "sft", "two-nodes", "-n", namespace).stdout
    assert "Succeeded" in table and "100" in table

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(demo_claims)
    assert model.config.num_hidden_layers == 2


def test_killed_trainer_restarts_and_resumes(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, local_node: Path
) -> None:
    """As a recipe writes it: a relative output_dir and TensorBoard. Both land on storage."""
    recipe = {
        "max_steps": 800,  # the kill comes at checkpoint-100; the rest shows the resume
        "save_steps": 100,
        "output_dir": "data/tiny-sft-full",
        "report_to": ["tensorboard"],
    }
    apply(devcluster, tiny_job(namespace, "resume", sftConfig=recipe, **QUICK_RESTART))
    output = demo_claims / "data" / "tiny-sft-full"
    kill_worker_after_first_checkpoint(devcluster, local_node, output, namespace, "resume")
    restarting = wait_for(
        "phase Restarting",
        lambda: phase_in(devcluster, namespace, "resume", "Restarting", "Succeeded", "Failed"),
        timeout=TRAINING_TIMEOUT,
    )
    # The status as seen then: with a 1 s backoff, attempt 2 may be Running by a second read.
    assert restarting["phase"] == "Restarting", restarting

    first_step_of_attempt_2: list[int] = []

    def attempt_2_started() -> bool:
        st = status(devcluster, namespace, "resume")
        step = (st.get("progress") or {}).get("step")
        if st.get("attempt") == 2 and step is not None and not first_step_of_attempt_2:
            first_step_of_attempt_2.append(int(step))
        return bool(first_step_of_attempt_2)

    wait_for("attempt 2 to report progress", attempt_2_started, timeout=TRAINING_TIMEOUT)
    assert first_step_of_attempt_2[0] > 0

    final = wait_for(
        "the job to finish",
        lambda: phase_in(devcluster, namespace, "resume", "Succeeded", "Failed"),
        timeout=TRAINING_TIMEOUT,
    )
    assert final["phase"] == "Succeeded", final
    assert final["restarts"] == 1
    assert final.get("lastCheckpoint")
    assert final["outputDir"] == "/workspace/output/data/tiny-sft-full"
    assert (output / "config.json").is_file() and (output / "model.safetensors").is_file()
    # One TensorBoard run per attempt, on the storage, with event files in each.
    runs = [run for run in (output / "runs").iterdir() if any(run.glob("events.out.tfevents.*"))]
    assert len(runs) == 2, sorted((output / "runs").iterdir())
    events = devcluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=resume"
    ).stdout
    assert "Restart" in events


def test_killed_trainer_without_retries_fails(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, local_node: Path
) -> None:
    apply(
        devcluster,
        tiny_job(
            namespace, "no-retry", backoffLimit=0, sftConfig={"max_steps": 3000, "save_steps": 100}
        ),
    )
    kill_worker_after_first_checkpoint(devcluster, local_node, demo_claims, namespace, "no-retry")
    final = wait_for(
        "the job to fail",
        lambda: phase_in(devcluster, namespace, "no-retry", "Succeeded", "Failed"),
        timeout=TRAINING_TIMEOUT,
    )
    assert final["phase"] == "Failed"
    assert condition(final, "Failed").get("reason") == "BackoffLimitExceeded", final["conditions"]
    assert final.get("message")


def test_trainer_token_can_only_report_its_own_progress(
    devcluster: Any, operator: Any, namespace: str
) -> None:
    """With a token bound to a pod of "mine" (as the kubelet mounts it), on the objects
    the operator made: its own progress is writable, nothing else is."""
    for name in ("mine", "other"):
        apply(devcluster, tiny_job(namespace, name, suspend=True))
    wait_for(
        "the other job's config ConfigMap and the trainer RoleBinding",
        lambda: all(
            devcluster.kubectl("get", kind, name, "-n", namespace, check=False).returncode == 0
            for kind, name in (("cm", "other-config"), ("rolebinding", "sftjob-trainer"))
        ),
    )
    pod = "mine-a1-0-pqrst"  # the name the Job controller gives attempt 1's pod 0
    devcluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pending_pod(pod)))
    token = bound_token(devcluster, namespace, pod)
    progress = {"data": {"progress.json": "{}"}}
    own = configmap_path(namespace, "mine-config")
    wait_for(
        "the trainer RoleBinding to take effect",
        lambda: request(devcluster, token, "PATCH", own, progress)[0] == 200,
    )
    sft_status = f"/apis/sftjob.dev/v1alpha1/namespaces/{namespace}/sftjobs/mine/status"
    attempts = {
        "status.phase": ("PATCH", sft_status, {"status": {"phase": "Succeeded"}}),
        "another job's progress": (
            "PATCH", configmap_path(namespace, "other-config"), progress
        ),
        "a Secret": ("GET", f"/api/v1/namespaces/{namespace}/secrets", None),
    }  # fmt: skip
    for what, (method, path, body) in attempts.items():
        code, message = request(devcluster, token, method, path, body)
        assert code == 403, (what, code, message)


def test_a_configuration_the_trainer_refuses_fails_at_once(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, local_node: Path
) -> None:
    """flash_attention_2 on a CPU node (and an image without flash-attn): the real trainer
    exits 2 before it loads anything, and the operator fails the job without restarting it."""
    job = tiny_job(namespace, "refused", backoffLimit=3)
    job["spec"]["modelConfig"]["attn_implementation"] = "flash_attention_2"
    apply(devcluster, job)
    final = wait_for(
        "the job to fail",
        lambda: phase_in(devcluster, namespace, "refused", "Succeeded", "Failed"),
        timeout=TRAINING_TIMEOUT,
    )
    assert condition(final, "Failed").get("reason") == "ConfigRefused", final["conditions"]
    assert final["phase"] == "Failed" and final.get("restarts", 0) == 0
    assert "`flash_attention_2` cannot train without a GPU" in final["message"], final["message"]
