"""The progress channel: a ConfigMap the trainer pods may get/patch, and nothing else."""

from __future__ import annotations

from typing import Any

from sftjob_operator.render import names
from sftjob_operator.render.meta import Owner, object_meta


def service_account(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_meta(owner, names.service_account(owner.name), "trainer"),
        "automountServiceAccountToken": False,
    }


def progress_config_map(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(owner, names.progress(owner.name), "progress"),
        "data": {},
    }


def role(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": object_meta(owner, names.role(owner.name), "progress"),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [names.progress(owner.name)],
                "verbs": ["get", "patch"],
            }
        ],
    }


def role_binding(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": object_meta(owner, names.role_binding(owner.name), "progress"),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": names.role(owner.name),
        },
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": names.service_account(owner.name),
                "namespace": owner.namespace,
            }
        ],
    }
