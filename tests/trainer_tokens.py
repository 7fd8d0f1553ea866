"""Acting as a trainer pod in tests: a pod-bound token for `sftjob-trainer`, raw requests."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

MERGE_PATCH = "application/merge-patch+json"


def pending_pod(name: str) -> dict[str, Any]:
    """A pod that never schedules: only its name and account matter to a bound token."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "serviceAccountName": "sftjob-trainer",
            "nodeSelector": {"sftjob.dev/nowhere": "true"},
            "containers": [{"name": "trainer", "image": "trainer:none"}],
        },
    }


def bound_token(devcluster: Any, namespace: str, pod: str | None) -> str:
    """A token of sftjob-trainer, bound to `pod` as the kubelet binds it (None: unbound)."""
    args = ["create", "token", "sftjob-trainer", "-n", namespace]
    if pod:
        uid = devcluster.kubectl(
            "get", "pod", pod, "-n", namespace, "-o", "jsonpath={.metadata.uid}"
        ).stdout
        args += [
            "--bound-object-kind=Pod",
            f"--bound-object-name={pod}",
            f"--bound-object-uid={uid}",
        ]
    return str(devcluster.kubectl(*args).stdout.strip())


def request(
    devcluster: Any, token: str, method: str, path: str, body: Any = None
) -> tuple[int, str]:
    """(HTTP status, the Status message or '') of one raw request with `token`."""
    req = urllib.request.Request(
        devcluster.server + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": MERGE_PATCH},
    )
    context = ssl.create_default_context(cafile=str(devcluster.ca_file))
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, str(json.loads(exc.read() or b"{}").get("message", ""))


def configmap_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps/{name}"
