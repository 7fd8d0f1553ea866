"""The hand-written parts of the SFTJob schema: the cluster-side spec fields and the status."""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.spec import (
    DEFAULT_BACKOFF_LIMIT,
    DEFAULT_DISTRIBUTED,
    DEFAULT_GPUS_PER_NODE,
    DEFAULT_HUB_TOKEN_KEY,
    DEFAULT_IMAGE,
    DEFAULT_MAX_RESTART_BACKOFF_SECONDS,
    DEFAULT_NODES,
    DEFAULT_RESTART_BACKOFF_SECONDS,
)
from sftjob_operator.render.plan import DISTRIBUTED_DESCRIPTION, DISTRIBUTED_MODES

Schema = dict[str, Any]

# The pattern controller-gen emits for resource.Quantity, less the sign: a request, limit or
# claim size is never negative (the Job or claim the operator creates would be refused, too
# late, naming the child's field instead of the SFTJob's).
QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# What the apiserver accepts in the children's object references (claim, Secret,
# PriorityClass, StorageClass and scheduler names), checked here already.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

_NAME = {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN_PATTERN}
_ANNOTATION_MAP = {
    "type": "object",
    "maxProperties": 64,
    "additionalProperties": {"type": "string", "maxLength": 4096},
}
_LABEL_VALUE_MAP = {
    "type": "object",
    "maxProperties": 64,
    "additionalProperties": {"type": "string", "maxLength": 63, "pattern": LABEL_VALUE_PATTERN},
}


def _quantity(description: str) -> Schema:
    return {
        "description": description,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": True,
    }


def _k8s_objects(description: str, required: list[str]) -> Schema:
    """A list of core/v1 objects that the operator passes through unchanged."""
    return {
        "description": description,
        "type": "array",
        "maxItems": 64,
        "items": {
            "type": "object",
            "required": required,
            "x-kubernetes-preserve-unknown-fields": True,
        },
    }


def cluster_spec_properties() -> dict[str, Schema]:
    return {
        "nodes": {
            "description": "Number of nodes (pods) that train together. One pod per node.",
            "type": "integer",
            "minimum": 1,
            "maximum": 1024,
            "default": DEFAULT_NODES,
        },
        "gpusPerNode": {
            "description": "GPUs per node (nvidia.com/gpu). 0 runs a CPU job.",
            "type": "integer",
            "minimum": 0,
            "maximum": 64,
            "default": DEFAULT_GPUS_PER_NODE,
        },
        "distributed": {
            "description": DISTRIBUTED_DESCRIPTION,
            "type": "string",
            "enum": list(DISTRIBUTED_MODES),
            "default": DEFAULT_DISTRIBUTED,
        },
        "image": {
            "description": "Trainer image (must provide the sftjob-train command).",
            "type": "string",
            "maxLength": 1024,
            "minLength": 1,
            "default": DEFAULT_IMAGE,
        },
        "resources": {
            "description": "CPU and memory per node (requests = limits). GPUs come from gpusPerNode.",
            "type": "object",
            "properties": {
                "cpu": _quantity("CPU per node, e.g. 8 or 7500m."),
                "memory": _quantity("Memory per node, e.g. 64Gi."),
            },
        },
        "storage": {
            "description": (
                "Storage for the output directory and checkpoints (/workspace/output). Either "
                "claimName (an existing PersistentVolumeClaim) or size (the operator creates one)."
            ),
            "type": "object",
            "properties": {
                "claimName": {**_NAME, "description": "An existing PersistentVolumeClaim."},
                "size": _quantity("Size of the PersistentVolumeClaim the operator creates."),
                "storageClassName": {**_NAME, "description": "Storage class for the new claim."},
                "accessMode": {
                    "description": "Access mode of the new claim (ReadWriteMany for multi-node).",
                    "type": "string",
                    "enum": ["ReadWriteOnce", "ReadWriteMany"],
                },
                "retain": {
                    "description": "Keep the operator-created claim when the SFTJob is deleted.",
                    "type": "boolean",
                    "default": False,
                },
            },
        },
        "hubTokenSecretRef": {
            "description": "Secret holding a Hugging Face Hub token, passed to the pods as HF_TOKEN.",
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {**_NAME, "description": "Secret name (same namespace)."},
                "key": {
                    "description": "Key in the Secret.",
                    "type": "string",
                    "maxLength": 253,
                    "pattern": r"^[-._a-zA-Z0-9]+$",
                    "default": DEFAULT_HUB_TOKEN_KEY,
                },
            },
        },
        "env": {
            "description": "Extra environment variables (core/v1 EnvVar) for the trainer containers.",
            "type": "array",
            "maxItems": 128,
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string", "maxLength": 256, "minLength": 1},
                    "value": {"type": "string", "maxLength": 32768},
                    "valueFrom": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                },
            },
        },
        "suspend": {
            "description": "Suspend the job: running pods are deleted; resuming continues from the "
            "last checkpoint. Mutable (Kueue uses it).",
            "type": "boolean",
            "default": False,
        },
        "backoffLimit": {
            "description": "Whole-job restarts (each resumes from the last checkpoint) before the "
            "SFTJob fails. A restart after a disruption from outside the job (a preemption, an "
            "eviction or drain, a lost node) does not count.",
            "type": "integer",
            "minimum": 0,
            "maximum": 1000,
            "default": DEFAULT_BACKOFF_LIMIT,
        },
        "restartBackoff": {
            "description": "How long a failed attempt waits before the next one starts: "
            "initialSeconds, doubled with each restart, up to maxSeconds. An attempt that ran "
            "longer than twice maxSeconds waits initialSeconds again. status.conditions "
            "Restarting (reason BackOff) says when the next attempt starts.",
            "type": "object",
            "properties": {
                "initialSeconds": {
                    "description": "The first wait; 0 restarts at once.",
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 86400,
                    "default": DEFAULT_RESTART_BACKOFF_SECONDS,
                },
                "maxSeconds": {
                    "description": "The longest wait (at least initialSeconds).",
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 86400,
                    "default": DEFAULT_MAX_RESTART_BACKOFF_SECONDS,
                },
            },
        },
        "watchdog": {
            "description": "When a running job counts as stuck: the condition Stalled is set "
            "(reason LossNotFinite when the reported loss is NaN or infinite, NoProgress when "
            "no progress arrived for progressDeadlineSeconds).",
            "type": "object",
            "properties": {
                "progressDeadlineSeconds": {
                    "description": "Stalled (NoProgress) when a Running job reports no "
                    "progress for this long. Unset: no such check.",
                    "type": "integer",
                    "format": "int32",
                    "minimum": 1,
                },
                "failOnStall": {
                    "description": "A Stalled job fails and its pods stop, instead of only "
                    "showing the condition.",
                    "type": "boolean",
                    "default": False,
                },
            },
        },
        "terminationGracePeriodSeconds": {
            "description": "How long a trainer pod may take to stop (preemption, eviction, "
            "suspend): on SIGTERM the trainer saves a checkpoint and exits; the next attempt "
            "resumes from it. Unset: Kubernetes' default (30).",
            "type": "integer",
            "format": "int64",
            "minimum": 0,
            "maximum": 86400,
        },
        "activeDeadlineSeconds": {
            "description": "Fail the SFTJob when it runs longer than this.",
            "type": "integer",
            "format": "int64",
            "minimum": 1,
        },
        "ttlSecondsAfterFinished": {
            "description": "Delete the SFTJob this long after it finished.",
            "type": "integer",
            "format": "int32",
            "minimum": 0,
        },
        "podTemplate": {
            "description": "Scheduling and pod overrides for the trainer pods. Mutable.",
            "type": "object",
            "properties": {
                "nodeSelector": {**_LABEL_VALUE_MAP, "description": "core/v1 nodeSelector."},
                "tolerations": _k8s_objects("core/v1 tolerations.", []),
                "affinity": {
                    "description": "core/v1 affinity.",
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                },
                "priorityClassName": {**_NAME, "description": "PriorityClass of the pods."},
                "schedulerName": {**_NAME, "description": "Scheduler of the pods."},
                "imagePullSecrets": {
                    "description": "core/v1 LocalObjectReferences to image pull Secrets.",
                    "type": "array",
                    "maxItems": 16,
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": _NAME},
                    },
                },
                "volumes": _k8s_objects("Extra core/v1 volumes.", ["name"]),
                "volumeMounts": _k8s_objects(
                    "Extra core/v1 volumeMounts for the trainer container.", ["name", "mountPath"]
                ),
                "labels": {**_LABEL_VALUE_MAP, "description": "Extra pod labels."},
                "annotations": {**_ANNOTATION_MAP, "description": "Extra pod annotations."},
            },
        },
    }


# Queued and Preempted: Kueue holds the Job (operator/sftjob_operator/decide/queue.py).
PHASES = [
    "Pending",
    "Queued",
    "Preempted",
    "Suspended",
    "Running",
    "Restarting",
    "Succeeded",
    "Failed",
]


def status_schema() -> Schema:
    condition = {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string"},
            "observedGeneration": {"type": "integer", "format": "int64"},
        },
    }
    progress = {
        "description": "Live training progress, reported by rank 0.",
        "type": "object",
        "properties": {
            "step": {"type": "integer"},
            "maxSteps": {"type": "integer"},
            "epoch": {"type": "number"},
            "percent": {"type": "number"},
            "loss": {"type": "number"},
            "learningRate": {"type": "number"},
            "tokensPerSecond": {"type": "number"},
            "etaSeconds": {"type": "number"},
            "updatedAt": {"type": "string"},
            "lossNotFinite": {
                "description": "The last reported loss was not a number: nan, inf or -inf.",
                "type": "string",
                "enum": ["nan", "inf", "-inf"],
            },
            "lossHistory": {
                "type": "array",
                "maxItems": 200,
                "items": {
                    "type": "object",
                    "properties": {"step": {"type": "integer"}, "loss": {"type": "number"}},
                },
            },
        },
    }
    return {
        "description": "Observed state, written by the operator.",
        "type": "object",
        "properties": {
            "phase": {"type": "string", "enum": PHASES},
            "message": {"type": "string"},
            "conditions": {"type": "array", "items": condition},
            "observedGeneration": {"type": "integer", "format": "int64"},
            "startTime": {"type": "string"},
            "completionTime": {"type": "string"},
            "restarts": {"type": "integer"},
            "disruptions": {
                "description": "Of the restarts, those after a disruption from outside the "
                "job (a preemption, an eviction or drain, a lost node): they do not count "
                "against spec.backoffLimit.",
                "type": "integer",
            },
            "attempt": {"type": "integer"},
            "lastCheckpoint": {"type": "string"},
            "outputDir": {
                "description": "Where checkpoints and the final model are written, inside the "
                "trainer pods: the resolved sftConfig.output_dir, on the job's storage "
                "(mounted at /workspace/output).",
                "type": "string",
            },
            "progress": progress,
            "kopf": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }


def printer_columns() -> list[Schema]:
    return [
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Progress", "type": "number", "jsonPath": ".status.progress.percent"},
        {"name": "Loss", "type": "number", "jsonPath": ".status.progress.loss"},
        {"name": "Nodes", "type": "integer", "jsonPath": ".spec.nodes"},
        {"name": "GPUs/Node", "type": "integer", "jsonPath": ".spec.gpusPerNode"},
        {
            "name": "Queue",
            "type": "string",
            "description": "The Kueue LocalQueue (label kueue.x-k8s.io/queue-name).",
            "jsonPath": ".metadata.labels.kueue\\.x-k8s\\.io/queue-name",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
