"""Fixtures for the operator (integration and e2e tests): the CRD installed, `sftjob-operator` running.

The devcluster and namespace fixtures come from sftjob_devcluster.pytest_plugin.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from sftjob_operator.api.identity import GROUP, LABEL_JOB_NAME, VERSION

from tests.polling import wait_for
from tests.prometheus_text import samples

ROOT = Path(__file__).resolve().parents[1]
# The CRD and the two admission policies the operator checks for at start-up.
CRDS = ROOT / "crds"
T = TypeVar("T")
COMPLETE_DELAY = "devcluster.sftjob.dev/complete-delay"  # kwok: how long a pod stays Running


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    """`sftjob-operator` as a user runs it, as a subprocess with KUBECONFIG."""

    def __init__(self, kubeconfig: Path, log_dir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.metrics_url = ""

    @property
    def log(self) -> Path:
        return self.log_dir / f"operator-{self.starts}.log"

    def command(self, liveness_url: str) -> list[str]:
        exe = Path(sys.executable).with_name("sftjob-operator")
        return [
            str(exe),
            "--all-namespaces",
            "--liveness",
            liveness_url,
            "--metrics",
            self.metrics_url,
            *self.extra_args,
        ]

    def start(self) -> None:
        self.starts += 1
        port = _free_port()
        self.metrics_url = f"http://127.0.0.1:{_free_port()}/metrics"
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        env.pop("KUBERNETES_SERVICE_HOST", None)  # KUBECONFIG, not in-cluster credentials
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command(f"http://127.0.0.1:{port}/healthz"),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            f"the operator's liveness endpoint (log: {self.log})",
            lambda: self._alive(port),
            timeout=60,
        )

    def _alive(self, port: int) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"the operator exited; log:\n{self.log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def scrape(self) -> dict[str, float]:
        """The operator's metrics endpoint, as Prometheus reads it: series -> value."""
        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = resp.read().decode()
        return samples(text)

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a node dies."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def install_crd(devcluster: Any) -> None:
    """Apply the CRD and the admission policies; wait until the CRD is Established and
    served and the spec policy is enforced.

    Retried: right after start-up the apiserver can answer "storage is (re)initializing".
    """

    def installed() -> bool:
        applied = devcluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "-f", str(CRDS), check=False
        )
        if applied.returncode != 0:
            return False
        established = devcluster.kubectl(
            "wait", "--for=condition=Established", "crd/sftjobs.sftjob.dev", "--timeout=10s",
            check=False,
        )  # fmt: skip
        served = devcluster.kubectl("get", "sftjobs", "-A", check=False)
        return established.returncode == 0 and served.returncode == 0

    wait_for("the SFTJob CRD to be Established and served", installed, timeout=120, interval=1)
    wait_for_policy_enforced(devcluster)


POLICY_PROBE = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "SFTJob",
    "metadata": {"name": "sftjob-policy-probe", "namespace": "default"},
    "spec": {
        "modelConfig": {"model_name_or_path": "probe"},
        "scriptArgs": {"dataset_name": "probe"},
        "suspend": True,
    },
}


def wait_for_policy_enforced(devcluster: Any) -> None:
    """An admission policy takes effect a moment after it is created: wait until a change
    of a training setting is refused (server-side dry run on a probe SFTJob)."""
    devcluster.kubectl("apply", "-f", "-", input=json.dumps(POLICY_PROBE))
    change = json.dumps({"spec": {"sftConfig": {"max_steps": 1}}})

    def refused() -> bool:
        result = devcluster.kubectl(
            "patch", "sftjob", "sftjob-policy-probe", "-n", "default", "--type=merge",
            "--dry-run=server", "-p", change, check=False,
        )  # fmt: skip
        return result.returncode != 0 and "immutable" in result.stderr

    try:
        wait_for("the spec admission policy to be enforced", refused, timeout=60)
    finally:
        devcluster.kubectl("delete", "sftjob", "sftjob-policy-probe", "-n", "default")


@pytest.fixture(scope="session")
def crd(devcluster: Any) -> None:
    install_crd(devcluster)


@pytest.fixture(scope="session")
def operator(
    devcluster: Any, crd: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        devcluster.kubeconfig,
        tmp_path_factory.mktemp("operator"),
        # Short grace periods so the hang guard and a stall are observable in a test.
        extra_args=("--straggler-grace", "5", "--unschedulable-grace", "10"),
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def kube(devcluster: Any) -> Any:
    """The official sync client (tests only), for what a user would check with kubectl."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(devcluster.kubeconfig))


# -- helpers for the tests: SFTJob manifests and what a user would look up --------


# A failed attempt's next one starts 1 s later, not after the default 10 s (doubling): for
# tests about something else than that wait (tests/reliability/test_crash_loop.py tests it).
QUICK_RESTART: dict[str, Any] = {"restartBackoff": {"initialSeconds": 1}}


def sftjob(
    name: str,
    namespace: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    body_spec: dict[str, Any] = {
        "modelConfig": {"model_name_or_path": "tiny-llama"},
        "scriptArgs": {"dataset_name": "tiny-dataset"},
        "sftConfig": {"max_steps": 2},
        **spec,
    }
    if annotations:
        template = dict(body_spec.get("podTemplate") or {})
        template["annotations"] = annotations
        body_spec["podTemplate"] = template
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "SFTJob",
        "metadata": meta,
        "spec": body_spec,
    }


def apply(devcluster: Any, *manifests: dict[str, Any]) -> None:
    devcluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests))


def enforced_quota(devcluster: Any, namespace: str, name: str, hard: dict[str, str]) -> None:
    """A ResourceQuota, once its controller has counted usage (admission refuses until then)."""
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hard": hard},
    }
    apply(devcluster, quota)
    wait_for(
        "the quota to be enforced",
        lambda: (
            devcluster.kubectl(
                "get", "resourcequota", name, "-n", namespace, "-o", "jsonpath={.status.hard}"
            ).stdout
        ),
    )


def get_sft(devcluster: Any, namespace: str, name: str) -> dict[str, Any] | None:
    out = devcluster.kubectl("get", "sftjob", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def status(devcluster: Any, namespace: str, name: str) -> dict[str, Any]:
    body = get_sft(devcluster, namespace, name) or {}
    return dict(body.get("status") or {})


def condition(st: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in st.get("conditions") or () if c["type"] == type_), {})


def wait_for_create_failed(devcluster: Any, namespace: str, name: str) -> dict[str, Any]:
    """The SFTJob's status once the operator reports that the apiserver refused a child."""

    def refused() -> dict[str, Any] | None:
        st = status(devcluster, namespace, name)
        return st if condition(st, "ChildrenCreated").get("reason") == "CreateFailed" else None

    found: dict[str, Any] = wait_for("the CreateFailed condition", refused)
    return found


def phase_is(devcluster: Any, namespace: str, name: str, phase: str) -> dict[str, Any] | None:
    st = status(devcluster, namespace, name)
    return st if st.get("phase") == phase else None


def children(kube: Any, namespace: str, name: str, kind: str) -> list[Any]:
    from kubernetes import client

    selector = f"{LABEL_JOB_NAME}={name}"
    listers = {
        "Job": lambda: client.BatchV1Api(kube).list_namespaced_job(
            namespace, label_selector=selector
        ),
        "Pod": lambda: client.CoreV1Api(kube).list_namespaced_pod(
            namespace, label_selector=selector
        ),
        "ConfigMap": lambda: client.CoreV1Api(kube).list_namespaced_config_map(
            namespace, label_selector=selector
        ),
        "Service": lambda: client.CoreV1Api(kube).list_namespaced_service(
            namespace, label_selector=selector
        ),
        "PersistentVolumeClaim": lambda: client.CoreV1Api(
            kube
        ).list_namespaced_persistent_volume_claim(namespace, label_selector=selector),
    }
    listed: Any = listers[kind]()  # a V1*List
    return list(listed.items)


def printer_row(devcluster: Any, namespace: str, name: str) -> dict[str, str]:
    """`kubectl get sft NAME` as {COLUMN: value}, exactly what a user sees."""
    out = devcluster.kubectl("get", "sft", name, "-n", namespace).stdout.splitlines()
    header, row = out[0], out[1]
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " ")]
    cells = {}
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else None
        cells[header[start:end].strip()] = row[start:end].strip()
    return cells
