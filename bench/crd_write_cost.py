"""What the SFTJob CRD's CEL rules cost the kube-apiserver per write.

Every SFTJob create and every status write (phase changes, progress) runs the CRD's
validation, CEL rules included. This benchmark creates N SFTJobs and then patches the
status of each, and reports the kube-apiserver's CPU seconds for each step, for:
  - the committed CRD (crds/sftjob.yaml), and
  - the baseline, measured in the same run: the same CRD with every x-kubernetes-validations
    rule removed (so the difference is what the rules cost).
The two variants alternate `--rounds` times, each in a fresh namespace.

    python bench/crd_write_cost.py --n 3000 --rounds 2
Writes bench/results/crd_write_cost.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client
from operator_scale import (
    CpuMeter,
    api_client,
    bounded,
    component_pids,
    delete_namespaces,
    spec,
)
from sftjob_devcluster.cluster import ClusterConfig, DevCluster
from sftjob_operator.api.identity import GROUP, PLURAL, VERSION

ROOT = Path(__file__).resolve().parents[1]
CRD = ROOT / "crds" / "sftjob.yaml"


def without_rules(node: Any) -> Any:
    """A copy of a schema with every x-kubernetes-validations removed."""
    if isinstance(node, dict):
        return {k: without_rules(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [without_rules(v) for v in node]
    return copy.deepcopy(node)


async def writes(cluster: DevCluster, namespace: str, n: int) -> dict[str, float]:
    api = await api_client(cluster)
    custom = client.CustomObjectsApi(api)
    apiserver = {"kube-apiserver": component_pids(cluster)["kube-apiserver"]}

    async def create(i: int) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SFTJob",
            "metadata": {"name": f"s{i}"},
            "spec": spec(i),
        }
        await custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    async def patch_status(i: int) -> None:
        await custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            f"s{i}",
            {"status": {"phase": "Suspended"}},
            _content_type="application/merge-patch+json",
        )

    try:
        out = {}
        for step, make in (("create", create), ("status", patch_status)):
            meter = CpuMeter(apiserver)
            start = time.monotonic()
            await bounded([make(i) for i in range(n)])
            out[f"{step}_s"] = round(time.monotonic() - start, 2)
            out[f"{step}_apiserver_cpu_s"] = meter.stop()["kube-apiserver"]
        return out
    finally:
        await api.close()


def apply_crd(cluster: DevCluster, crd: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(crd, f)
        f.flush()
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", f.name)
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}")
    time.sleep(3)  # let the apiserver swap in the new schema and rules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cluster", default="bench-operator", help="devcluster name (kept)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "crd_write_cost.json"
    )
    args = parser.parse_args()
    committed = yaml.safe_load(CRD.read_text())
    variants = {"committed": committed, "no_cel_baseline": without_rules(committed)}
    cluster = DevCluster(ClusterConfig(name=args.cluster)).up()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    try:
        for round_ in range(args.rounds):
            for name, crd in variants.items():
                apply_crd(cluster, crd)
                namespace = f"crd-cost-{name.replace('_', '-')}-{round_}-{int(time.time())}"
                cluster.kubectl("create", "namespace", namespace)
                cluster.wait_for_service_account(namespace)
                sample = asyncio.run(writes(cluster, namespace, args.n))
                print(name, json.dumps(sample), flush=True)
                samples[name].append(sample)
                delete_namespaces(cluster, namespace)
    finally:
        apply_crd(cluster, committed)
    medians = {
        name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for name, runs in samples.items()
    }
    per_1000 = 1000 / args.n
    result = {
        "benchmark": "crd_write_cost",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"{platform.python_implementation()} {platform.python_version()}",
        "setup": f"N={args.n} SFTJobs created, then one status merge patch each, concurrency "
        f"50; {args.rounds} alternating rounds per variant, medians shown",
        "apiserver_cpu_s_per_1000_writes": {
            name: {
                "create": round(m["create_apiserver_cpu_s"] * per_1000, 2),
                "status": round(m["status_apiserver_cpu_s"] * per_1000, 2),
            }
            for name, m in medians.items()
        },
        "ratio_vs_no_cel_baseline": {
            step: round(
                medians["committed"][f"{step}_apiserver_cpu_s"]
                / medians["no_cel_baseline"][f"{step}_apiserver_cpu_s"],
                2,
            )
            for step in ("create", "status")
        },
        "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("apiserver_cpu_s_per_1000_writes", "ratio_vs_no_cel_baseline")},
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
