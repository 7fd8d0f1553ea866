"""Checks made once at start-up, before any SFTJob is handled.

Two admission policies hold guarantees the operator relies on, and it refuses to start
without either:
- `sftjob-trainer-progress`: the trainer pods share one identity per namespace, and only
  this policy keeps each pod to its own job's progress. Without it a trainer pod could
  patch any ConfigMap of its namespace.
- `sftjob-spec-rules`: it holds the rules across fields of an SFTJob and keeps the training
  settings immutable; without it a user could change the training settings of a running
  job, and the next attempt would resume its checkpoint under other settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sftjob_operator import k8s
from sftjob_operator.admission import spec_policy, trainer_policy


@dataclass(frozen=True)
class RequiredPolicy:
    name: str
    purpose: str
    file: str
    manifests: list[dict[str, Any]]


REQUIRED_POLICIES = (
    RequiredPolicy(
        trainer_policy.POLICY_NAME,
        "it keeps each trainer pod to its own job's progress",
        "crds/trainer-policy.yaml",
        trainer_policy.manifests(),
    ),
    RequiredPolicy(
        spec_policy.POLICY_NAME,
        "it checks the fields of an SFTJob against each other and keeps its training "
        "settings as they were created",
        "crds/spec-policy.yaml",
        spec_policy.manifests(),
    ),
)


def missing_policy_message(required: RequiredPolicy, missing: list[str]) -> str | None:
    """The error for the policy objects not found (kinds), or None when all exist."""
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} {required.name!r} not found: {required.purpose}. Install "
        f"it with `kubectl apply --server-side -f {required.file}` (the Helm chart installs "
        "it too), then start the operator again"
    )


async def check_policies(api: k8s.Api) -> None:
    problems = []
    for required in REQUIRED_POLICIES:
        missing = []
        for manifest in required.manifests:
            try:
                found = await api.get(manifest["apiVersion"], manifest["kind"], "", required.name)
            except k8s.ApiError as exc:
                raise RuntimeError(
                    f"cannot read {manifest['kind']} {required.name!r} ({exc}); the operator "
                    "needs `get` on it (the Helm chart's ClusterRole grants it)"
                ) from exc
            if found is None:
                missing.append(manifest["kind"])
        if message := missing_policy_message(required, missing):
            problems.append(message)
    if problems:
        raise RuntimeError("; ".join(problems))
