"""What validating SFTJobs costs the kube-apiserver per write.

Every SFTJob create and every status write (phase changes, live progress) runs the CRD's
validation, its CEL rules (x-kubernetes-validations) included; creates and spec updates
also run the admission policy `sftjob-spec-rules` (rules across fields, immutability),
which does not match the status subresource. This benchmark creates N SFTJobs and then
patches the status of each, and reports the kube-apiserver's CPU seconds for each step, for:
  - the committed validation: crds/sftjob.yaml and crds/spec-policy.yaml, and
  - the baseline, measured in the same run: the same CRD with every x-kubernetes-validations
    rule removed and the policy's binding deleted (so the difference is what validation
    costs),
each for three specs: the minimal one of bench/operator_scale.py, a typical fine-tune
(LoRA, bf16, a dozen sftConfig fields), and a pasted recipe at the size limits (a 64 KiB
inline chat template, a weighted handbook mixture, an inline DeepSpeed config, trackers);
CEL over a CRD costs more the more fields are set.
The variants alternate `--rounds` times, each in a fresh namespace.

    python bench/crd_write_cost.py --n 2000 --rounds 2
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
from collections.abc import Callable
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
from sftjob_operator.admission import spec_policy
from sftjob_operator.api.identity import GROUP, PLURAL, VERSION

ROOT = Path(__file__).resolve().parents[1]
CRD = ROOT / "crds" / "sftjob.yaml"
POLICY = ROOT / "crds" / "spec-policy.yaml"


def typical_spec(i: int) -> dict[str, Any]:
    return {
        "modelConfig": {
            "model_name_or_path": "tiny-llama",
            "dtype": "bfloat16",
            "use_peft": True,
            "lora_r": 16,
            "lora_alpha": 32,
        },
        "scriptArgs": {"dataset_name": "tiny-dataset"},
        "sftConfig": {
            "max_steps": 2,
            "learning_rate": 2e-5,
            "per_device_train_batch_size": 4,
            "gradient_accumulation_steps": 4,
            "bf16": True,
            "logging_steps": 10,
            "save_steps": 100,
            "max_length": 2048,
            "packing": True,
            "num_train_epochs": 1,
            "lr_scheduler_type": "cosine",
            "warmup_ratio": 0.03,
        },
        "nodes": 1,
        "gpusPerNode": 1,
        "suspend": True,
    }


# The largest inline chat template the CRD accepts (extensions.CHAT_TEMPLATE_MAX_BYTES).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
)


def recipe_spec(i: int) -> dict[str, Any]:
    """A pasted alignment-handbook recipe at the size limits: a 64 KiB inline chat template,
    a weighted handbook mixture, an inline DeepSpeed config, trackers and env entries."""
    from sftjob_operator.api.extensions import CHAT_TEMPLATE_MAX_BYTES

    padding = CHAT_TEMPLATE_MAX_BYTES - len(CHAT_TEMPLATE) - len("{#  #}")
    base = typical_spec(i)
    base["scriptArgs"] = {
        "dataset_mixture": {
            "datasets": [
                {"id": f"org/data-{k}", "split": "train", "columns": ["messages"], "weight": 0.5}
                for k in range(8)
            ],
            "seed": 42,
            "test_split_size": 0.01,
        }
    }
    base["gpusPerNode"] = 8
    base["sftConfig"] = {
        **base["sftConfig"],
        "chat_template": "{# " + "x" * padding + " #}" + CHAT_TEMPLATE,
        "deepspeed": {"zero_optimization": {"stage": 3}, "gradient_clipping": 1.0},
        "report_to": ["tensorboard", "wandb"],
        "output_dir": "data/recipe",
    }
    base["env"] = [
        {"name": "WANDB_PROJECT", "value": "bench"},
        {"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": {"name": "w", "key": "k"}}},
    ]
    return base


SPECS: dict[str, Callable[[int], dict[str, Any]]] = {
    "minimal": spec,
    "typical": typical_spec,
    "recipe_64k_template": recipe_spec,
}


def without_rules(node: Any) -> Any:
    """A copy of a schema with every x-kubernetes-validations removed."""
    if isinstance(node, dict):
        return {k: without_rules(v) for k, v in node.items() if k != "x-kubernetes-validations"}
    if isinstance(node, list):
        return [without_rules(v) for v in node]
    return copy.deepcopy(node)


async def writes(
    cluster: DevCluster, namespace: str, n: int, make_spec: Callable[[int], dict[str, Any]]
) -> dict[str, float]:
    api = await api_client(cluster)
    custom = client.CustomObjectsApi(api)
    apiserver = {"kube-apiserver": component_pids(cluster)["kube-apiserver"]}

    async def create(i: int) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SFTJob",
            "metadata": {"name": f"s{i}"},
            "spec": make_spec(i),
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


def apply(cluster: DevCluster, docs: list[dict[str, Any]]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump_all(docs, f)
        f.flush()
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", f.name)


def install(cluster: DevCluster, crd: dict[str, Any], with_policy: bool) -> None:
    apply(cluster, [crd])
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}")
    if with_policy:
        apply(cluster, list(yaml.safe_load_all(POLICY.read_text())))
    else:
        binding = f"validatingadmissionpolicybinding/{spec_policy.POLICY_NAME}"
        cluster.kubectl("delete", binding, "--ignore-not-found")
    time.sleep(3)  # let the apiserver swap in the new schema, rules and policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cluster", default="bench-operator", help="devcluster name (kept)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "crd_write_cost.json"
    )
    args = parser.parse_args()
    committed = yaml.safe_load(CRD.read_text())
    variants = {
        "committed": (committed, True),
        "no_validation_baseline": (without_rules(committed), False),
    }
    cluster = DevCluster(ClusterConfig(name=args.cluster)).up()
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        s: {v: [] for v in variants} for s in SPECS
    }
    try:
        for round_ in range(args.rounds):
            for name, (crd, with_policy) in variants.items():
                install(cluster, crd, with_policy)
                for spec_name, make_spec in SPECS.items():
                    namespace = (
                        f"crd-cost-{spec_name.replace('_', '-')}-{round_}-{int(time.time())}"
                    )
                    cluster.kubectl("create", "namespace", namespace)
                    cluster.wait_for_service_account(namespace)
                    sample = asyncio.run(writes(cluster, namespace, args.n, make_spec))
                    print(name, spec_name, json.dumps(sample), flush=True)
                    samples[spec_name][name].append(sample)
                    delete_namespaces(cluster, namespace)
    finally:
        install(cluster, committed, True)
    per_1000 = 1000 / args.n
    results: dict[str, Any] = {}
    for spec_name, by_variant in samples.items():
        medians = {
            name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
            for name, runs in by_variant.items()
        }
        results[spec_name] = {
            "apiserver_cpu_s_per_1000_writes": {
                name: {
                    step: round(m[f"{step}_apiserver_cpu_s"] * per_1000, 2)
                    for step in ("create", "status")
                }
                for name, m in medians.items()
            },
            "ratio_vs_no_validation": {
                step: round(
                    medians["committed"][f"{step}_apiserver_cpu_s"]
                    / medians["no_validation_baseline"][f"{step}_apiserver_cpu_s"],
                    2,
                )
                for step in ("create", "status")
            },
        }
    result = {
        "benchmark": "crd_write_cost",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), "
        f"{platform.python_implementation()} {platform.python_version()}",
        "setup": f"N={args.n} SFTJobs created, then one status merge patch each, concurrency "
        f"50; {args.rounds} alternating rounds per variant, medians shown",
        "specs": results,
        "samples": samples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
