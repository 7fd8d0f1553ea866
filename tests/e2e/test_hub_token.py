"""A Hub token given as a spec.env entry from a Secret reaches the trainer process on the
devcluster's local node (render once reserved HF_TOKEN, so such a job passed admission and
then failed)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sftjob_operator.api.secret_env import HUB_TOKEN_ENV

from tests.e2e.test_tiny_cpu import TRAINING_TIMEOUT, tiny_job
from tests.operator_fixtures import apply, wait_for

pytestmark = pytest.mark.e2e


def trainer_environ(devcluster: Any, local_node: Path, namespace: str, job: str) -> dict[str, str]:
    """The environment of the running trainer container's process ({} until it runs)."""
    from sftjob_devcluster.nodeagent import container_pid
    from sftjob_devcluster.nodeagent.runner import SHIM

    pods = json.loads(
        devcluster.kubectl(
            "get", "pods", "-n", namespace, "-l", f"sftjob.dev/job-name={job}", "-o", "json"
        ).stdout
    )["items"]
    for pod in pods:
        if pod["status"].get("phase") != "Running":
            continue
        pid = container_pid(
            local_node, pod["metadata"]["uid"], pod["spec"]["containers"][0]["name"]
        )
        if pid is None:
            continue
        try:
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes()
            raw = (Path("/proc") / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if SHIM.name.encode() in cmdline or cmdline.startswith(b"unshare"):
            continue  # not yet exec'd into the container's command: the agent's environment
        return dict(e.split("=", 1) for e in raw.decode().split("\0") if "=" in e)
    return {}


def test_a_hub_token_from_a_secret_reaches_the_trainer(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, local_node: Path
) -> None:
    token = f"hf_known{uuid.uuid4().hex}"
    devcluster.kubectl(
        "create", "secret", "generic", "hub", "-n", namespace, f"--from-literal=token={token}"
    )
    job = tiny_job(namespace, "hub")
    job["spec"]["env"].append(
        {"name": HUB_TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": "hub", "key": "token"}}}
    )
    apply(devcluster, job)
    environ = wait_for(
        "the trainer running",
        lambda: trainer_environ(devcluster, local_node, namespace, "hub"),
        timeout=TRAINING_TIMEOUT,
    )
    assert environ.get(HUB_TOKEN_ENV) == token
    devcluster.kubectl("delete", "sftjob", "hub", "-n", namespace, "--wait=false")
