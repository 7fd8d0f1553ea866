"""A progress reporter that patches the progress record of the job's config ConfigMap.

The operator creates `<job>-config` (the training config the pods mount, and the job's
progress channel) and names it in SFTJOB_PROGRESS_CONFIGMAP. The pod's service account,
`sftjob-trainer`, may `patch` ConfigMaps, and the admission policy `sftjob-trainer-progress`
narrows that to the `progress.json` key and the `sftjob.dev/progress` label of its own
job's ConfigMap (the pod name in the pod-bound token says which job that is). The operator copies validated values from it into
the SFTJob's `status.progress`; the pod never touches the SFTJob itself.
Only the standard library is used, with the pod's projected service-account token.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROGRESS_CONFIGMAP_ENV = "SFTJOB_PROGRESS_CONFIGMAP"
PROGRESS_KEY = "progress.json"
# The operator watches only config ConfigMaps with this label (a server-side selector), so
# every record carries it; the trainer policy lets the pod set it to this one value.
PROGRESS_LABEL = "sftjob.dev/progress"
PROGRESS_LABEL_VALUE = "reported"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
REQUEST_TIMEOUT_S = 5.0


def configmap_url(host: str, port: str, namespace: str, name: str) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{port}/api/v1/namespaces/{namespace}/configmaps/{name}"


def progress_patch(record: Mapping[str, Any]) -> bytes:
    """The JSON merge patch that stores one progress record and marks the ConfigMap as one
    that holds progress."""
    body = {
        "metadata": {"labels": {PROGRESS_LABEL: PROGRESS_LABEL_VALUE}},
        "data": {PROGRESS_KEY: json.dumps(dict(record), sort_keys=True)},
    }
    return json.dumps(body).encode()


class ConfigMapReporter:
    """Sends each record to the job's config ConfigMap with one PATCH request."""

    def __init__(
        self,
        url: str,
        token_path: Path,
        ca_path: Path,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.token_path = token_path
        self.context = ssl.create_default_context(cafile=str(ca_path))
        self.timeout_s = timeout_s

    def report(self, record: dict[str, Any]) -> None:
        # The token is read on every call: the projected token is rotated on disk.
        token = self.token_path.read_text().strip()
        request = urllib.request.Request(
            self.url,
            data=progress_patch(record),
            method="PATCH",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/merge-patch+json",
                "Accept": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s, context=self.context):
            pass


def configmap_reporter_from_env(
    env: Mapping[str, str], sa_dir: Path = SERVICE_ACCOUNT_DIR
) -> ConfigMapReporter | None:
    """A reporter when the pod was named a progress ConfigMap and has in-cluster credentials."""
    name = env.get(PROGRESS_CONFIGMAP_ENV)
    host = env.get("KUBERNETES_SERVICE_HOST")
    port = env.get("KUBERNETES_SERVICE_PORT", "443")
    if not name or not host:
        return None
    namespace_file = sa_dir / "namespace"
    namespace = env.get("POD_NAMESPACE") or (
        namespace_file.read_text().strip() if namespace_file.exists() else ""
    )
    if not namespace:
        return None
    return ConfigMapReporter(
        configmap_url(host, port, namespace, name),
        token_path=sa_dir / "token",
        ca_path=sa_dir / "ca.crt",
    )
