"""One trainer identity per namespace.

The trainer pods of every SFTJob in a namespace run as the ServiceAccount
`sftjob-trainer`, whose Role may patch ConfigMaps and nothing else. The admission policy in
`admission.trainer_policy` narrows that to the progress record of the job's own `<job>-config`
ConfigMap, so the identity is made once per namespace rather than three objects per job.
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.render import names
from sftjob_operator.render.meta import MANAGED_BY_LABEL, MANAGER

TRAINER_COMPONENT = "trainer-identity"


def _shared_meta(namespace: str) -> dict[str, Any]:
    return {
        "name": names.TRAINER_SERVICE_ACCOUNT,
        "namespace": namespace,
        "labels": {MANAGED_BY_LABEL: MANAGER, "app.kubernetes.io/component": TRAINER_COMPONENT},
    }


def service_account(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _shared_meta(namespace),
        "automountServiceAccountToken": False,
    }


def role(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _shared_meta(namespace),
        # Narrowed to the job's own progress record by the sftjob-trainer-progress policy.
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["patch"]}],
    }


def role_binding(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _shared_meta(namespace),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": names.TRAINER_SERVICE_ACCOUNT,
        },
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": names.TRAINER_SERVICE_ACCOUNT,
                "namespace": namespace,
            }
        ],
    }


def trainer_identity(namespace: str) -> list[dict[str, Any]]:
    """The namespace's shared trainer ServiceAccount, its Role and RoleBinding, in order."""
    return [service_account(namespace), role(namespace), role_binding(namespace)]
