"""Fake GPU node manifests that kwok manages (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .args import KWOK_NODE_ANNOTATION, KWOK_NODE_ANNOTATION_VALUE

GPU_RESOURCE = "nvidia.com/gpu"
KWOK_NODE_LABEL = "type"
KWOK_NODE_LABEL_VALUE = "kwok"


@dataclass(frozen=True)
class NodeShape:
    count: int = 4
    gpus: int = 8
    cpu: str = "64"
    memory: str = "512Gi"
    pods: int = 110
    name_prefix: str = "kwok-gpu-"

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"nodes: {self.count} is negative; write 0 or more (default 4)")
        if self.gpus < 0:
            raise ValueError(f"gpus per node: {self.gpus} is negative; write 0 or more (default 8)")


def node_manifest(shape: NodeShape, index: int) -> dict[str, Any]:
    name = f"{shape.name_prefix}{index}"
    resources = {"cpu": shape.cpu, "memory": shape.memory, "pods": str(shape.pods)}
    if shape.gpus:
        resources[GPU_RESOURCE] = str(shape.gpus)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                KWOK_NODE_LABEL: KWOK_NODE_LABEL_VALUE,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "kwok-gpu",
                "nvidia.com/gpu.present": "true" if shape.gpus else "false",
            },
            "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE},
        },
        "spec": {},
        "status": {"capacity": dict(resources), "allocatable": dict(resources)},
    }


def node_manifests(shape: NodeShape) -> list[dict[str, Any]]:
    return [node_manifest(shape, i) for i in range(shape.count)]
