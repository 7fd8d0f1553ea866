"""Checks made once at start-up, before any SFTJob is handled.

The trainer pods share one identity per namespace, and only the admission policy
`sftjob-trainer-progress` keeps each pod to its own job's progress. Without it a trainer
pod could patch any ConfigMap of its namespace, so the operator refuses to start.
"""

from __future__ import annotations

from sftjob_operator import k8s
from sftjob_operator.render.policy import POLICY_NAME, manifests

POLICY_FILE = "crds/trainer-policy.yaml"


def missing_policy_message(missing: list[str]) -> str | None:
    """The error for the policy objects not found (kinds), or None when all exist."""
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} {POLICY_NAME!r} not found: it keeps each trainer pod to "
        f"its own job's progress. Install it with `kubectl apply --server-side -f "
        f"{POLICY_FILE}` (the Helm chart installs it too), then start the operator again"
    )


async def check_trainer_policy(api: k8s.Api) -> None:
    missing = []
    for manifest in manifests():
        try:
            found = await api.get(manifest["apiVersion"], manifest["kind"], "", POLICY_NAME)
        except k8s.ApiError as exc:
            raise RuntimeError(
                f"cannot read {manifest['kind']} {POLICY_NAME!r} ({exc}); the operator "
                "needs `get` on it (the Helm chart's ClusterRole grants it)"
            ) from exc
        if found is None:
            missing.append(manifest["kind"])
    if message := missing_policy_message(missing):
        raise RuntimeError(message)
