"""SFTJob bodies and hand-built normalized TRL configs for the render golden tests."""

from __future__ import annotations

from typing import Any

BASE_TRL: dict[str, Any] = {
    "model_name_or_path": "Qwen/Qwen2.5-0.5B",
    "dataset_name": "trl-lib/Capybara",
    "learning_rate": 2.0e-5,
    "num_train_epochs": 1,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 8,
    "bf16": True,
    "logging_steps": 10,
}


def body(name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "team-a", "uid": f"uid-{name}"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "sftjob.dev/v1alpha1", "kind": "SFTJob", "metadata": meta, "spec": spec}


CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "1x1": (body("tiny", {"nodes": 1, "gpusPerNode": 1}), BASE_TRL),
    "1x8-ddp": (
        body("llama-8gpu", {"nodes": 1, "gpusPerNode": 8, "distributed": "ddp"}),
        {**BASE_TRL, "output_dir": "/workspace/output/llama", "gradient_checkpointing": True},
    ),
    "4x8-deepspeed-zero3": (
        body(
            "big",
            {
                "nodes": 4,
                "gpusPerNode": 8,
                "distributed": "deepspeed-zero3",
                "image": "registry.example.com/trainer:1.2.3",
                "resources": {"cpu": "64", "memory": "900Gi"},
                "storage": {"size": "2Ti", "storageClassName": "fast-rwx"},
                "hubTokenSecretRef": {"name": "hf-token"},
                "activeDeadlineSeconds": 86400,
            },
        ),
        {**BASE_TRL, "max_length": 4096, "save_steps": 500},
    ),
    "cpu-only": (
        body("cpu", {"nodes": 2, "gpusPerNode": 0, "resources": {"cpu": "2", "memory": "4Gi"}}),
        {**BASE_TRL, "bf16": False, "use_cpu": True, "max_steps": 20},
    ),
    "lora-4bit": (
        body("qlora", {"nodes": 2, "gpusPerNode": 4, "storage": {"size": "100Gi", "retain": True}}),
        {
            **BASE_TRL,
            "use_peft": True,
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_target_modules": ["q_proj", "v_proj"],
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "dtype": "bfloat16",
        },
    ),
    "pod-template": (
        body(
            "custom",
            {
                "nodes": 1,
                "gpusPerNode": 2,
                "distributed": "fsdp",
                "storage": {"claimName": "shared-models"},
                "hubTokenSecretRef": {"name": "hub", "key": "hf"},
                "env": [
                    {"name": "HF_HUB_OFFLINE", "value": "1"},
                    {"name": "WANDB_PROJECT", "value": "sft"},
                ],
                "podTemplate": {
                    "nodeSelector": {"gpu.example.com/type": "h100"},
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml"}],
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "zone",
                                                "operator": "In",
                                                "values": ["a"],
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "priorityClassName": "training",
                    "schedulerName": "volcano",
                    "imagePullSecrets": [{"name": "regcred"}],
                    "volumes": [{"name": "cache", "emptyDir": {}}],
                    "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                    "labels": {"team": "nlp"},
                    "annotations": {"example.com/trace": "on"},
                },
            },
        ),
        {**BASE_TRL, "fp16": True, "bf16": False},
    ),
    "kueue": (
        body(
            "queued",
            {"nodes": 2, "gpusPerNode": 8},
            labels={"kueue.x-k8s.io/queue-name": "gpu-queue"},
        ),
        BASE_TRL,
    ),
}
