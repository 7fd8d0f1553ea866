"""batch/v1 Job <job>-a<attempt>: an Indexed Job with one pod per node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sftjob_operator.api.secret_env import HUB_TOKEN_ENV
from sftjob_operator.render import launch, names
from sftjob_operator.render.caches import cache_env
from sftjob_operator.render.configmap import OUTPUT_DIR, config_files
from sftjob_operator.render.env_defaults import unset_defaults
from sftjob_operator.render.errors import RenderError
from sftjob_operator.render.meta import DISRUPTION_TARGET, Owner, labels, object_meta
from sftjob_operator.render.plan import Plan
from sftjob_operator.render.pvc import claim_name
from sftjob_operator.render.quantity import sign_problem
from sftjob_operator.render.trackers import tracker_env

CONTAINER = "trainer"
GPU_RESOURCE = "nvidia.com/gpu"
RUN_AS = 1000
LOOPBACK = "127.0.0.1"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
# Env names the operator owns; a user value would break the rendezvous wiring.
RESERVED_ENV_PREFIXES = ("SFTJOB_",)
RESERVED_ENV = frozenset({"JOB_COMPLETION_INDEX", "MASTER_ADDR", "MASTER_PORT"})
# SFTJOB_* names a user may set: the trainer reads them, the operator never sets them.
USER_SFTJOB_ENV = frozenset({"SFTJOB_PROGRESS_INTERVAL"})
# Env names that pick GPUs. A pod sees only the GPUs it is given, numbered from 0, so a
# recipe's `CUDA_VISIBLE_DEVICES=4,5,6,7` would hide them all, and `0,1` would leave
# gpusPerNode processes on two GPUs.
GPU_VISIBILITY_ENV = frozenset({"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"})
# Volume names and mount paths the operator owns.
RESERVED_VOLUMES = frozenset({"config", "shm", "output"})
RESERVED_MOUNT_PATHS = frozenset({launch.CONFIG_DIR, "/dev/shm", OUTPUT_DIR})


def command() -> list[str]:
    return [
        "sftjob-train",
        "--config",
        launch.TRL_CONFIG_PATH,
        "--accelerate-config",
        launch.ACCELERATE_CONFIG_PATH,
    ]


def reserved_env_reason(name: str, gpus_per_node: int) -> str | None:
    """Why spec.env may not set `name` in a job of `gpus_per_node` GPUs; None when it may.
    A CPU job may hide the node's GPUs (`NVIDIA_VISIBLE_DEVICES: void`): the CUDA base image
    sets `all`, which a pod without GPUs would otherwise see on an nvidia-runtime node."""
    if name in USER_SFTJOB_ENV:
        return None
    if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
        return "set by the operator (spec.nodes and spec.gpusPerNode set the topology)"
    if name in GPU_VISIBILITY_ENV and gpus_per_node > 0:
        return (
            "each pod sees only the GPUs it is given, numbered from 0 "
            "(spec.gpusPerNode sets how many)"
        )
    return None


def _check_user_env(plan: Plan) -> None:
    for i, var in enumerate(plan.env):
        name = str(var.get("name", ""))
        if name in USER_SFTJOB_ENV:
            _check_interval(i, var)
            continue
        if reason := reserved_env_reason(name, plan.gpus_per_node):
            raise RenderError(f"spec.env[{i}].name", f"{name}: {reason}; remove it")
        if name == HUB_TOKEN_ENV and plan.hub_token:
            raise RenderError(
                f"spec.env[{i}].name",
                f"{name} is also given by spec.hubTokenSecretRef; keep one of them",
            )


def _check_interval(i: int, var: Mapping[str, Any]) -> None:
    if "valueFrom" in var:
        return  # resolved in the pod; the trainer reports a bad value itself
    raw = str(var.get("value", ""))
    try:
        ok = float(raw) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise RenderError(
            f"spec.env[{i}].value",
            f"SFTJOB_PROGRESS_INTERVAL={raw!r} is not a number of seconds >= 0; "
            'write e.g. "10" (the default) or "1" for a report every second',
        )


def master_addr(owner: Owner, plan: Plan, attempt: int) -> str:
    """Rank 0's address: its name under the headless Service, or loopback for one node."""
    return names.master_addr(owner.name, attempt) if plan.nodes > 1 else LOOPBACK


def env(owner: Owner, plan: Plan, attempt: int) -> list[dict[str, Any]]:
    _check_user_env(plan)
    out: list[dict[str, Any]] = [
        {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {
                "fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"}
            },
        },
        {"name": "MASTER_ADDR", "value": master_addr(owner, plan, attempt)},
        {"name": "MASTER_PORT", "value": str(names.RENDEZVOUS_PORT)},
        {"name": "SFTJOB_NUM_NODES", "value": str(plan.nodes)},
        {"name": "SFTJOB_GPUS_PER_NODE", "value": str(plan.gpus_per_node)},
        {"name": "SFTJOB_NAME", "value": owner.name},
        {"name": "SFTJOB_NAMESPACE", "value": owner.namespace},
        {"name": "SFTJOB_ATTEMPT", "value": str(attempt)},
        {"name": "SFTJOB_PROGRESS_CONFIGMAP", "value": names.config_map(owner.name)},
    ]
    if plan.hub_token:
        out.append(
            {
                "name": HUB_TOKEN_ENV,
                "valueFrom": {
                    "secretKeyRef": {"name": plan.hub_token["name"], "key": plan.hub_token["key"]}
                },
            }
        )
    # Trackers write on the job's storage unless the user's own entry says otherwise.
    out.extend(tracker_env(plan.env))
    # The prepared dataset too, so a restart does not tokenize it again.
    out.extend(cache_env(plan.env))
    out.extend(unset_defaults(shutdown_env(plan), plan.env))
    out.extend(dict(var) for var in plan.env)
    return out


# torch's elastic agent (under `accelerate launch`) gives its training processes this long
# after SIGTERM, then SIGKILLs them: 30 s unless set, whatever the pod's grace period.
SHUTDOWN_TIMEOUT_ENV = "TORCH_ELASTIC_SHUTDOWN_TIMEOUT"


def shutdown_env(plan: Plan) -> list[tuple[str, str]]:
    """The pod's grace period for the checkpoint on SIGTERM, where the spec sets one."""
    grace = plan.termination_grace_period_seconds
    return [] if grace is None else [(SHUTDOWN_TIMEOUT_ENV, str(grace))]


def resources(plan: Plan) -> dict[str, Any]:
    for key, value in plan.resources.items():
        if problem := sign_problem(value, positive=False):
            raise RenderError(
                f"spec.resources.{key}", f"{problem}; write an amount such as 8 or 32Gi"
            )
    amounts: dict[str, Any] = {k: str(v) for k, v in sorted(plan.resources.items())}
    if plan.gpus_per_node > 0:
        amounts[GPU_RESOURCE] = str(plan.gpus_per_node)
    if not amounts:
        return {}
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _check_user_volumes(pod_template: Mapping[str, Any]) -> None:
    for i, volume in enumerate(pod_template.get("volumes") or ()):
        if volume.get("name") in RESERVED_VOLUMES:
            raise RenderError(
                f"spec.podTemplate.volumes[{i}].name",
                f"{volume.get('name')!r} is used by the operator; pick another name",
            )
    for i, mount in enumerate(pod_template.get("volumeMounts") or ()):
        if mount.get("mountPath") in RESERVED_MOUNT_PATHS:
            raise RenderError(
                f"spec.podTemplate.volumeMounts[{i}].mountPath",
                f"{mount.get('mountPath')} is mounted by the operator; pick another path",
            )


def volumes(owner: Owner, plan: Plan) -> list[dict[str, Any]]:
    claim = claim_name(owner, plan)
    output: dict[str, Any] = (
        {"name": "output", "persistentVolumeClaim": {"claimName": claim}}
        if claim
        else {"name": "output", "emptyDir": {}}
    )
    return [
        {
            "name": "config",
            "configMap": {
                "name": names.config_map(owner.name),
                "items": [{"key": key, "path": key} for key in config_files(plan)],
                "defaultMode": 0o444,
            },
        },
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
        output,
        *(dict(v) for v in plan.pod_template.get("volumes") or ()),
    ]


def volume_mounts(plan: Plan) -> list[dict[str, Any]]:
    return [
        {"name": "config", "mountPath": launch.CONFIG_DIR, "readOnly": True},
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "output", "mountPath": OUTPUT_DIR},
        *(dict(m) for m in plan.pod_template.get("volumeMounts") or ()),
    ]


def container(owner: Owner, plan: Plan, attempt: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": CONTAINER,
        "image": plan.image,
        "command": command(),
        "env": env(owner, plan, attempt),
        "ports": [{"name": "rendezvous", "containerPort": names.RENDEZVOUS_PORT}],
        "volumeMounts": volume_mounts(plan),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
    }
    if res := resources(plan):
        out["resources"] = res
    return out


def tolerations(plan: Plan) -> list[dict[str, Any]]:
    out = [dict(t) for t in plan.pod_template.get("tolerations") or ()]
    if plan.gpus_per_node > 0:
        # GPU node pools are commonly tainted nvidia.com/gpu:NoSchedule.
        out.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    return out


def pod_spec(owner: Owner, plan: Plan, attempt: int) -> dict[str, Any]:
    template = plan.pod_template
    _check_user_volumes(template)
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": names.TRAINER_SERVICE_ACCOUNT,
        "automountServiceAccountToken": True,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container(owner, plan, attempt)],
        "volumes": volumes(owner, plan),
    }
    if plan.nodes > 1:
        # With subdomain set, the Indexed Job's pod hostname <job>-a<N>-<index>
        # resolves as <job>-a<N>-<index>.<service>.
        spec["subdomain"] = names.service(owner.name)
    for key in (
        "nodeSelector",
        "affinity",
        "priorityClassName",
        "schedulerName",
        "imagePullSecrets",
    ):
        if template.get(key):
            spec[key] = template[key]
    if tols := tolerations(plan):
        spec["tolerations"] = tols
    if plan.termination_grace_period_seconds is not None:
        # The trainer checkpoints on SIGTERM (sftjob_trainer/preemption.py) within this.
        spec["terminationGracePeriodSeconds"] = plan.termination_grace_period_seconds
    return spec


def job(owner: Owner, plan: Plan, attempt: int) -> dict[str, Any]:
    last_attempt = max(attempt, plan.backoff_limit + 1)
    if problem := names.name_problem(owner.name, plan.nodes, last_attempt):
        raise RenderError("metadata.name", problem)
    # Kueue's batch/v1 Job integration admits a Job with a queue label by unsuspending it,
    # at the priority of its WorkloadPriorityClass label (or its pods' priorityClassName).
    extra = owner.kueue_labels if owner.queue_name else {}
    template = plan.pod_template
    pod_labels = {**(template.get("labels") or {}), **labels(owner, "trainer", attempt)}
    pod_meta: dict[str, Any] = {"labels": pod_labels}
    if template.get("annotations"):
        pod_meta["annotations"] = dict(template["annotations"])
    spec: dict[str, Any] = {
        "completionMode": "Indexed",
        "completions": plan.nodes,
        "parallelism": plan.nodes,
        # Whole-job restarts (with resume) belong to the operator, never to the Job.
        "backoffLimit": 0,
        "podFailurePolicy": {
            "rules": [
                {
                    # A preempted or evicted rank fails the Job at once, with a reason
                    # that says so, instead of leaving the other ranks to time out.
                    "action": "FailJob",
                    "onPodConditions": [{"type": DISRUPTION_TARGET, "status": "True"}],
                }
            ]
        },
        "suspend": plan.suspend or owner.queue_name is not None,
        "template": {"metadata": pod_meta, "spec": pod_spec(owner, plan, attempt)},
    }
    if plan.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = plan.active_deadline_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(
            owner, names.job(owner.name, attempt), "trainer", attempt, extra_labels=extra
        ),
        "spec": spec,
    }
