"""The apiserver's words about a rendered Job, in the SFTJob's fields. Pure.

spec.env, spec.resources, spec.image and spec.podTemplate pass into the Job's pod template,
and some of their values (an env valueFrom, affinity, tolerations, volumes, label keys) are
checked only when the Job is created. The apiserver's refusal then names the Job's field
(`spec.template.spec.containers[0].env[13].valueFrom`), which a user cannot find in the
SFTJob they wrote. `in_sftjob_fields` rewrites those paths to the SFTJob's
(`spec.env[2].valueFrom`), using the rendered Job to count the entries the operator put
before the user's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sftjob_operator.api.secret_env import HUB_TOKEN_ENV
from sftjob_operator.api.spec import JobSpec

_POD = r"spec\.template\.spec\."
_CONTAINER = _POD + r"containers(?:\[0\])?\."
# The 400 of a value of the wrong JSON type names the path without indexes
# ("...EnvVarSource.spec.template.spec.containers.env.valueFrom..."), so indexes are optional.
_INDEX = r"(?:\[(\d+)\])?"


def _pod(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(job.get("spec", {}).get("template", {}).get("spec", {}))


def _container(job: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = _pod(job).get("containers") or [{}]
    return dict(containers[0])


def _user_index(index: str | None, rendered: list[Any], user_count: int) -> int | None:
    """The position in the user's list of entry `index` of the rendered list, whose last
    `user_count` entries are the user's; None for the operator's own entries."""
    if index is None:
        return None
    mapped = int(index) - (len(rendered) - user_count)
    return mapped if mapped >= 0 else None


def _env(job: Mapping[str, Any], spec: JobSpec) -> Callable[[re.Match[str]], str]:
    def rewrite(match: re.Match[str]) -> str:
        env = list(_container(job).get("env") or ())
        user = _user_index(match.group(1), env, len(spec.env))
        suffix = match.group(2)  # .valueFrom(.secretKeyRef): the hub token's is the ref
        if user is not None:
            return f"spec.env[{user}]{suffix}"
        if match.group(1) is None:
            return f"spec.env{suffix}"
        index = int(match.group(1))
        if index < len(env) and env[index].get("name") == HUB_TOKEN_ENV and spec.hub_token:
            return "spec.hubTokenSecretRef"
        return match.group(0)

    return rewrite


def _listed(
    job: Mapping[str, Any], spec: JobSpec, where: str, key: str
) -> Callable[[re.Match[str]], str]:
    """A list of the pod (volumes) or container (volumeMounts) that ends with the user's."""

    def rewrite(match: re.Match[str]) -> str:
        owner = _pod(job) if where == "pod" else _container(job)
        rendered = list(owner.get(key) or ())
        user_list = spec.pod_template.get(key) or ()
        user = _user_index(match.group(1), rendered, len(user_list))
        if user is not None:
            return f"spec.podTemplate.{key}[{user}]"
        return f"spec.podTemplate.{key}" if match.group(1) is None else match.group(0)

    return rewrite


def _resource(match: re.Match[str]) -> str:
    name = match.group(1)
    if name is None:
        return "spec.resources"
    return "spec.gpusPerNode" if name == "nvidia.com/gpu" else f"spec.resources.{name}"


def in_sftjob_fields(message: str, job: Mapping[str, Any], spec: JobSpec) -> str:
    """`message` (the apiserver's refusal of `job`, rendered from `spec`) with the paths of
    the Job's pod template that come from the SFTJob rewritten to the SFTJob's fields."""
    rules: list[tuple[str, Any]] = [
        (_CONTAINER + r"env" + _INDEX + r"((?:\.valueFrom(?:\.secretKeyRef)?)?)", _env(job, spec)),
        (_CONTAINER + r"volumeMounts" + _INDEX, _listed(job, spec, "container", "volumeMounts")),
        (_POD + r"volumes" + _INDEX, _listed(job, spec, "pod", "volumes")),
        (_CONTAINER + r"resources\.(?:limits|requests)(?:\[([^\]]+)\])?", _resource),
        (_CONTAINER + r"image\b", "spec.image"),
        (
            _POD + r"(affinity|tolerations|nodeSelector|priorityClassName|schedulerName|"
            r"imagePullSecrets)\b",
            r"spec.podTemplate.\1",
        ),
        (r"spec\.template\.(?:metadata\.)?(labels|annotations)\b", r"spec.podTemplate.\1"),
    ]
    for pattern, replacement in rules:
        message = re.sub(pattern, replacement, message)
    return message
