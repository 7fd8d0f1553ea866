"""`make demo`: a tiny, real, offline fine-tune on the local devcluster, end to end.

It starts the devcluster with the local node agent, installs the CRD, runs the operator,
generates a tiny model and dataset, applies examples/tiny-cpu.yaml, shows the progress
live, and ends with the SFTJob Succeeded and the model under demo-output/.

The pieces are functions so the end-to-end tests use exactly the same steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sftjob_devcluster.cluster import ClusterConfig, DevCluster

REPO = Path(__file__).resolve().parent.parent
CRDS = REPO / "crds"  # the CRD and the trainer admission policy
EXAMPLE = REPO / "examples" / "tiny-cpu.yaml"
ASSETS_CLAIM = "sftjob-demo-assets"
OUTPUT_CLAIM = "sftjob-demo-output"
FINAL_PHASES = ("Succeeded", "Failed")


def host_path_volume(name: str, path: Path, access_mode: str) -> dict[str, Any]:
    """A PersistentVolume over a host directory, pre-bound to the claim of the same name."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"sftjob.dev/demo": "true"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": [access_mode],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
        },
    }


def volume_claim(name: str, namespace: str, access_mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "accessModes": [access_mode],
            "storageClassName": "",
            "volumeName": name if namespace == "default" else f"{name}-{namespace}",
            "resources": {"requests": {"storage": "10Gi"}},
        },
    }


def demo_volumes(namespace: str, assets: Path, output: Path) -> list[dict[str, Any]]:
    """The assets (model and data, read-only) and output claims the example names."""
    out: list[dict[str, Any]] = []
    for claim, path in ((ASSETS_CLAIM, assets), (OUTPUT_CLAIM, output)):
        pv = host_path_volume(claim, path, "ReadWriteMany")
        pvc = volume_claim(claim, namespace, "ReadWriteMany")
        pv["metadata"]["name"] = pvc["spec"]["volumeName"]
        out += [pv, pvc]
    return out


def kubectl(cluster: DevCluster, *args: str, stdin: str | None = None) -> str:
    proc = cluster.kubectl(*args, check=False, input=stdin)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
    return str(proc.stdout)


def apply_objects(cluster: DevCluster, objects: list[dict[str, Any]]) -> None:
    listing = {"apiVersion": "v1", "kind": "List", "items": objects}
    kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(listing))


def install_crd(cluster: DevCluster) -> None:
    kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    kubectl(cluster, "wait", "--for=condition=Established", "crd/sftjobs.sftjob.dev")


def build_tiny_assets(assets: Path) -> None:
    if (assets / "model" / "config.json").exists():
        return
    subprocess.run(
        [sys.executable, "-m", "sftjob_trainer.tinymodel", str(assets)],
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


@contextmanager
def running_operator(
    cluster: DevCluster, log: Path, namespace: str
) -> Iterator[subprocess.Popen[bytes]]:
    log.parent.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("sftjob-operator")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(exe), "--namespace", namespace],
            env={**os.environ, **cluster.env()},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get_job(cluster: DevCluster, name: str, namespace: str) -> dict[str, Any]:
    return dict(json.loads(kubectl(cluster, "get", "sft", name, "-n", namespace, "-o", "json")))


def watch_until_final(
    cluster: DevCluster,
    name: str,
    namespace: str,
    timeout_s: float,
    on_change: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: tuple[Any, ...] = ()
    while time.monotonic() < deadline:
        job = get_job(cluster, name, namespace)
        status = job.get("status") or {}
        progress = status.get("progress") or {}
        seen = (status.get("phase"), progress.get("step"), status.get("attempt"))
        if seen != last:
            last = seen
            on_change(job)
        if status.get("phase") in FINAL_PHASES:
            return job
        time.sleep(1.0)
    raise TimeoutError(f"SFTJob {namespace}/{name} did not finish within {timeout_s:.0f}s")


def print_row(job: dict[str, Any]) -> None:
    status = job.get("status") or {}
    p = status.get("progress") or {}
    print(
        f"  {status.get('phase', '-'):<10} step {p.get('step', '-')}/{p.get('maxSteps', '-')}"
        f"  {p.get('percent', '-')}%  loss={p.get('loss', '-')}  eta={p.get('etaSeconds', '-')}s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the devcluster running")
    parser.add_argument("--timeout", type=float, default=900.0)
    ns = parser.parse_args(argv)

    out = REPO / "demo-output"
    assets, output = out / "assets", out / "output"
    # A new SFTJob each run: the last run's checkpoints would make it resume at the end.
    shutil.rmtree(output, ignore_errors=True)
    print("==> generating a tiny offline model and dataset", flush=True)
    build_tiny_assets(assets)
    print("==> starting the devcluster and the local node agent", flush=True)
    cluster = DevCluster(ClusterConfig(name="demo", local_node=True)).up()
    try:
        install_crd(cluster)
        apply_objects(cluster, demo_volumes("default", assets, output))
        with running_operator(cluster, out / "operator.log", "default"):
            kubectl(cluster, "delete", "sft", "tiny-cpu", "--ignore-not-found", "--wait=true")
            kubectl(cluster, "apply", "-f", str(EXAMPLE))
            print("==> kubectl apply -f examples/tiny-cpu.yaml; watching progress", flush=True)
            job = watch_until_final(cluster, "tiny-cpu", "default", ns.timeout, print_row)
            print(kubectl(cluster, "get", "sft", "tiny-cpu"), flush=True)
        phase = job["status"]["phase"]
        if phase != "Succeeded":
            print(f"demo failed: {job['status'].get('message')}", file=sys.stderr)
            return 1
        print(f"==> Succeeded. The fine-tuned model is in {output}", flush=True)
        return 0
    finally:
        if not ns.keep:
            cluster.down()


if __name__ == "__main__":
    sys.exit(main())
