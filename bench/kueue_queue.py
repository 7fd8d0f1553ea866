"""Kueue queue benchmark: N single-node 8-GPU SFTJobs through a G-GPU ClusterQueue on kwok,
against the same Jobs created directly as plain Kueue-managed Jobs, in the same run.

Both runs use real Kueue (the devcluster's `--kueue`), the same ClusterQueue shape and
the same pods (the Job the operator renders for the SFTJob, its pods Running for
`--pod-seconds` on kwok). Reported:
  - seconds from the first create until every job is done (SFTJobs: phase Succeeded;
    Jobs: condition Complete), for both, and their ratio (operator / plain);
  - admitted GPUs, sampled every 0.5 s from the ClusterQueue's reservation and from the
    pods that hold GPUs: the maximum of each must not exceed the quota;
  - the operator's API writes per SFTJob (its own counter, by verb and resource).

    python bench/kueue_queue.py --jobs 200 --gpus 32
Writes bench/results/kueue_queue.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sftjob_devcluster.cluster import ClusterConfig, DevCluster  # noqa: E402
from sftjob_devcluster.kueue import gpu_queue_manifests  # noqa: E402
from sftjob_devcluster.nodes import (  # noqa: E402
    GPU_RESOURCE,
    KWOK_NODE_LABEL,
    KWOK_NODE_LABEL_VALUE,
    NodeShape,
)
from sftjob_devcluster.stages import COMPLETE_DELAY_ANNOTATION  # noqa: E402
from sftjob_operator.render import render_children  # noqa: E402

from tests.operator_fixtures import OperatorProcess, install_crd, sftjob  # noqa: E402

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
GPUS_PER_JOB = 8
SAMPLE_S = 0.5


def kubectl_json(cluster: DevCluster, *argv: str) -> Any:
    return json.loads(cluster.kubectl(*argv, "-o", "json", timeout=120).stdout)


def reserved_gpus(cluster: DevCluster, queue: str) -> int:
    cq = kubectl_json(cluster, "get", "clusterqueue.kueue.x-k8s.io", queue)
    return sum(
        int(r["total"])
        for f in (cq.get("status") or {}).get("flavorsReservation") or ()
        for r in f.get("resources") or ()
        if r["name"] == GPU_RESOURCE
    )


def running_gpus(cluster: DevCluster, namespace: str) -> int:
    pods = kubectl_json(cluster, "get", "pods", "-n", namespace)["items"]
    return sum(
        int(((p["spec"]["containers"][0].get("resources") or {}).get("limits") or {}).get(
            GPU_RESOURCE, 0
        ))
        for p in pods
        if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    )  # fmt: skip


class Sampler(threading.Thread):
    """Admitted GPUs every SAMPLE_S seconds, until stopped."""

    def __init__(self, cluster: DevCluster, namespace: str, queue: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.namespace, self.queue = cluster, namespace, queue
        self.reserved: list[int] = []
        self.running: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_S):
            self.reserved.append(reserved_gpus(self.cluster, self.queue))
            self.running.append(running_gpus(self.cluster, self.namespace))


def job_body(name: str, namespace: str, queue: str, pod_seconds: float) -> dict[str, Any]:
    return sftjob(
        name,
        namespace,
        nodes=1,
        gpusPerNode=GPUS_PER_JOB,
        labels={QUEUE_LABEL: queue},
        annotations={COMPLETE_DELAY_ANNOTATION: f"{pod_seconds}s"},
    )


def plain_job(name: str, namespace: str, queue: str, pod_seconds: float) -> dict[str, Any]:
    """The Job the operator renders for the same SFTJob, standing alone (no owner)."""
    body = job_body(name, namespace, queue, pod_seconds)
    body["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000"
    children = render_children(body, {"model_name_or_path": "tiny-llama"})
    job = next(c for c in children if c["kind"] == "Job")
    job["metadata"].pop("ownerReferences", None)
    job["metadata"]["name"] = name
    spec = job["spec"]["template"]["spec"]
    # No ConfigMap, identity or Service exist for it: kwok never starts a container.
    spec.pop("serviceAccountName", None)
    spec["volumes"] = []
    spec["containers"][0]["volumeMounts"] = []
    return job


def make_queue(cluster: DevCluster, name: str, gpus: int) -> None:
    cluster.kubectl("create", "namespace", name)
    cluster.wait_for_service_account(name)
    manifests = gpu_queue_manifests(name, name, gpus, {KWOK_NODE_LABEL: KWOK_NODE_LABEL_VALUE})
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests))


def all_done(cluster: DevCluster, namespace: str, kind: str, n: int) -> bool:
    items = kubectl_json(cluster, "get", kind, "-n", namespace)["items"]
    if kind == "jobs":
        done = [
            j
            for j in items
            if any(
                c["type"] == "Complete" and c["status"] == "True"
                for c in (j.get("status") or {}).get("conditions") or ()
            )
        ]
    else:
        done = [s for s in items if (s.get("status") or {}).get("phase") == "Succeeded"]
    return len(done) == n


def run_one(
    cluster: DevCluster, namespace: str, kind: str, manifests: list[dict[str, Any]], gpus: int
) -> dict[str, Any]:
    make_queue(cluster, namespace, gpus)
    sampler = Sampler(cluster, namespace, namespace)
    start = time.monotonic()
    sampler.start()
    for i in range(0, len(manifests), 50):
        cluster.kubectl(
            "create", "-f", "-", input=yaml.safe_dump_all(manifests[i : i + 50]), timeout=300
        )
    while not all_done(cluster, namespace, kind, len(manifests)):
        time.sleep(1)
    seconds = time.monotonic() - start
    sampler.done.set()
    sampler.join()
    return {
        "seconds": round(seconds, 1),
        "max_reserved_gpus": max(sampler.reserved, default=0),
        "max_running_gpus": max(sampler.running, default=0),
        "samples": len(sampler.reserved),
    }


def operator_writes(proc: OperatorProcess) -> dict[str, float]:
    return {
        k: v for k, v in proc.scrape().items() if k.startswith("sftjob_operator_api_writes_total")
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--gpus", type=int, default=32, help="the ClusterQueue's GPU quota")
    parser.add_argument("--pod-seconds", type=float, default=2.0)
    parser.add_argument("--name", default="bench-kueue", help="devcluster name")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/kueue_queue.json")
    args = parser.parse_args()

    nodes = max(1, args.gpus // GPUS_PER_JOB)
    config = ClusterConfig(
        name=args.name, kueue=True, nodes=NodeShape(count=nodes, gpus=GPUS_PER_JOB)
    )
    cluster = DevCluster(config).up()
    try:
        install_crd(cluster)
        names = [f"j{i:04d}" for i in range(args.jobs)]
        plain = run_one(
            cluster,
            "plain",
            "jobs",
            [plain_job(n, "plain", "plain", args.pod_seconds) for n in names],
            args.gpus,
        )
        with tempfile.TemporaryDirectory() as logs:
            proc = OperatorProcess(cluster.kubeconfig, Path(logs))
            proc.start()
            try:
                before = operator_writes(proc)
                ours = run_one(
                    cluster,
                    "operator",
                    "sftjobs",
                    [job_body(n, "operator", "operator", args.pod_seconds) for n in names],
                    args.gpus,
                )
                after = operator_writes(proc)
            finally:
                proc.stop()
    finally:
        cluster.down()
    writes = {k: after[k] - before.get(k, 0.0) for k in after if after[k] - before.get(k, 0.0)}
    result = {
        "jobs": args.jobs,
        "gpus_quota": args.gpus,
        "gpus_per_job": GPUS_PER_JOB,
        "pod_seconds": args.pod_seconds,
        "plain_kueue_jobs": plain,
        "sftjobs": ours,
        "ratio_seconds": round(ours["seconds"] / plain["seconds"], 2),
        "operator_writes_per_job": round(sum(writes.values()) / args.jobs, 2),
        "operator_writes": writes,
        "admitted_within_quota": max(
            plain["max_reserved_gpus"],
            ours["max_reserved_gpus"],
            plain["max_running_gpus"],
            ours["max_running_gpus"],
        )
        <= args.gpus,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["admitted_within_quota"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
