"""`validate --server`: ask the cluster with a server-side dry run, as
`kubectl apply --dry-run=server` does: a create, or (the object exists) a server-side
apply of it, both with strict field validation. Nothing is stored.

Errors a user can cause (no kubeconfig, no such context, no cluster, RBAC) become one
ServerError line; what the apiserver says about the object is the dry run's answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_cli.crd import Crd

FIELD_MANAGER = "sftjob-validate"


class ServerError(RuntimeError):
    """The cluster could not be asked: one line, no traceback."""


@dataclass(frozen=True)
class Cluster:
    """A CustomObjectsApi of the chosen kubeconfig context, and its namespace."""

    api: Any
    namespace: str


def connect(kubeconfig: str | None, context: str | None, namespace: str | None) -> Cluster:
    """The cluster commands' own connection (kube.connect), as a ServerError when unusable."""
    from sftjob_cli import kube as k8s

    try:
        kube = k8s.connect(kubeconfig, context, namespace)
    except k8s.KubeError as err:
        raise ServerError(err.message) from None
    return Cluster(kube.custom, kube.namespace)


def _message(err: Any) -> str:
    try:
        return str(json.loads(err.body)["message"])
    except (TypeError, ValueError, KeyError):
        return f"{err.status} {err.reason}".strip()


def dry_run(cluster: Cluster, obj: Mapping[str, Any], crd: Crd) -> tuple[bool, str]:
    """(accepted, the server's message) for a dry-run apply of the object."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    namespace = (obj.get("metadata") or {}).get("namespace") or cluster.namespace
    version = str(obj["apiVersion"]).rpartition("/")[2]
    where = (crd.group, version, namespace, crd.plural)
    try:
        try:
            cluster.api.create_namespaced_custom_object(
                *where, dict(obj), dry_run="All", field_validation="Strict"
            )
        except ApiException as err:
            if err.status != 409:
                raise
            cluster.api.patch_namespaced_custom_object(
                *where,
                obj["metadata"]["name"],
                dict(obj),
                dry_run="All",
                field_validation="Strict",
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type="application/apply-patch+yaml",
            )
    except ApiException as err:
        if err.status in (400, 422):  # BadRequest (strict decoding), Invalid (schema, policy)
            return False, _message(err)
        # 403: RBAC; 404: the CRD is not installed; others: the cluster's trouble
        raise ServerError(f"the cluster refused the dry run: {_message(err)}") from None
    except (OSError, HTTPError) as err:
        raise ServerError(f"cannot reach the cluster: {getattr(err, 'reason', err)}") from None
    return True, "accepted (server dry run)"
