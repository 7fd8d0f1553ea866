"""Kueue in a devcluster: its configuration, CRDs and webhook registrations (pure), and
the files it needs.

Kueue runs as a process on loopback, like the control plane. Its webhook server
listens on 127.0.0.1 with a serving certificate from the devcluster's CA, and the
webhook configurations reach it by URL with that CA as caBundle (Kueue's internal
certificate management, which rewrites Service-based registrations, is off). Only
the webhooks of Kueue's own API group and of batch/v1 Jobs are registered: the
others belong to integrations this devcluster does not enable, and a registration
for a path nobody serves would refuse every object of its kind.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .nodes import GPU_RESOURCE

KUEUE_NAMESPACE = "kueue-system"
KUEUE_API_GROUP = "kueue.x-k8s.io"
# The integrations the devcluster enables, and the API groups whose webhooks they serve.
FRAMEWORKS = ("batch/job",)
WEBHOOK_API_GROUPS = frozenset({KUEUE_API_GROUP, "batch"})
CRD_DIR = Path("config/components/crd/bases")
WEBHOOK_MANIFESTS = Path("config/components/webhook/manifests.yaml")
WEBHOOK_CONFIG_PREFIX = "sftjob-devcluster-kueue-"


def configuration(
    webhook_port: int, health_port: int, cert_dir: Path, label_keys_to_copy: Iterable[str] = ()
) -> dict[str, Any]:
    """Kueue's Configuration (config.kueue.x-k8s.io/v1beta2) for a process on loopback."""
    integrations: dict[str, Any] = {"frameworks": list(FRAMEWORKS)}
    keys = list(label_keys_to_copy)
    if keys:
        integrations["labelKeysToCopy"] = keys
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": KUEUE_NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health_port}"},
        "metrics": {"bindAddress": "0"},
        "webhook": {"host": "127.0.0.1", "port": webhook_port, "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "manageJobsWithoutQueueName": False,
        "integrations": integrations,
        # The on-demand visibility API is an aggregated API server: not needed here,
        # and its fixed port would collide between devclusters.
        "featureGates": {"VisibilityOnDemand": False},
    }


def _served_here(webhook: Mapping[str, Any]) -> bool:
    groups = {g for rule in webhook.get("rules", []) for g in rule.get("apiGroups", [])}
    return bool(groups) and groups <= WEBHOOK_API_GROUPS


def webhook_configurations(manifests: str, base_url: str, ca_bundle: bytes) -> list[dict[str, Any]]:
    """Kueue's webhook configurations, kept to the groups served here, pointed at `base_url`."""
    result = []
    for doc in yaml.safe_load_all(manifests):
        if not doc:
            continue
        hooks = []
        for hook in doc.get("webhooks", []):
            if not _served_here(hook):
                continue
            path = hook["clientConfig"]["service"]["path"]
            hook = dict(hook)
            hook["clientConfig"] = {
                "url": f"{base_url}{path}",
                "caBundle": base64.b64encode(ca_bundle).decode(),
            }
            hooks.append(hook)
        if not hooks:
            continue
        kind = doc["kind"]
        name = WEBHOOK_CONFIG_PREFIX + ("mutating" if kind.startswith("Mutating") else "validating")
        result.append(
            {
                "apiVersion": doc["apiVersion"],
                "kind": kind,
                "metadata": {"name": name},
                "webhooks": hooks,
            }
        )
    return result


def crd_manifests(module_dir: Path) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition of Kueue, read from its module's config/ directory."""
    crds = []
    for path in sorted((module_dir / CRD_DIR).glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                crds.append(doc)
    if not crds:
        raise FileNotFoundError(f"no CustomResourceDefinitions under {module_dir / CRD_DIR}")
    return crds


def gpu_queue_manifests(
    name: str,
    namespace: str,
    gpus: int,
    node_labels: Mapping[str, str],
    tolerations: Iterable[Mapping[str, str]] = (),
) -> list[dict[str, Any]]:
    """A ResourceFlavor for the kwok GPU nodes, a ClusterQueue `name` with a quota of `gpus`
    GPUs on it (CPU and memory generous), and LocalQueue `name` in `namespace` feeding it."""
    quota = {"cpu": "10k", "memory": "100Ti", GPU_RESOURCE: str(gpus)}
    return queue_manifests(name, namespace, quota, node_labels, tolerations)


def queue_manifests(
    name: str,
    namespace: str,
    quota: Mapping[str, str],
    node_labels: Mapping[str, str],
    tolerations: Iterable[Mapping[str, str]] = (),
) -> list[dict[str, Any]]:
    """A ResourceFlavor `name` for the nodes with `node_labels`, a ClusterQueue `name` with
    `quota` (resource -> nominal quota) on it, and LocalQueue `name` in `namespace`."""
    api = f"{KUEUE_API_GROUP}/v1beta2"
    flavor: dict[str, Any] = {"nodeLabels": dict(node_labels)}
    if tolerations := [dict(t) for t in tolerations]:
        flavor["tolerations"] = tolerations
    return [
        {"apiVersion": api, "kind": "ResourceFlavor", "metadata": {"name": name}, "spec": flavor},
        {
            "apiVersion": api,
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {},
                "resourceGroups": [
                    {
                        "coveredResources": list(quota),
                        "flavors": [
                            {
                                "name": name,
                                "resources": [
                                    {"name": r, "nominalQuota": q} for r, q in quota.items()
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "LocalQueue",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterQueue": name},
        },
    ]


def priority_classes(prefix: str, values: Mapping[str, int]) -> list[dict[str, Any]]:
    """Kueue WorkloadPriorityClasses `<prefix>-<level>` (cluster-scoped) with these values."""
    return [
        {
            "apiVersion": f"{KUEUE_API_GROUP}/v1beta2",
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": f"{prefix}-{level}"},
            "value": value,
        }
        for level, value in values.items()
    ]
