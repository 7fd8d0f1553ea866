"""Kubeconfig rendering (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def _kubeconfig(
    server: str, ca_file: Path, user: dict[str, str], name: str, namespace: str | None = None
) -> dict[str, Any]:
    context = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }


def render_kubeconfig(
    server: str, ca_file: Path, cert_file: Path, key_file: Path, name: str = "devcluster"
) -> dict[str, Any]:
    """A kubeconfig with one cluster, user and (current) context, referring to files."""
    user = {"client-certificate": str(cert_file), "client-key": str(key_file)}
    return _kubeconfig(server, ca_file, user, name)


def render_token_kubeconfig(
    server: str, ca_file: Path, token: str, namespace: str, name: str
) -> dict[str, Any]:
    """A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's)."""
    return _kubeconfig(server, ca_file, {"token": token}, name, namespace)


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
