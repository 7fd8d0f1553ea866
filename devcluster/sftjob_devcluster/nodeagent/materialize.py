"""Fetches what a pod's volumes hold and lays it out as directories under the state dir."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, PodRejected
from .kube import Kube
from .volumes import (
    FileEntry,
    Volume,
    downward_files,
    key_files,
    pv_host_path,
    pvc_volume_name,
    token_request_body,
)


class ApiLookups:
    """Secrets, ConfigMaps, claims and tokens from the API server, cached per pod start."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._cache: dict[tuple[str, str, str], Any] = {}

    def _get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        key = (kind, namespace, name)
        if key not in self._cache:
            self._cache[key] = self.kube.get(f"/api/v1/namespaces/{namespace}/{kind}/{name}")
        value: dict[str, Any] | None = self._cache[key]
        return value

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        obj = self._get("secrets", namespace, name)
        if obj is None:
            return None
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}

    def config_map(self, namespace: str, name: str) -> dict[str, bytes] | None:
        obj = self._get("configmaps", namespace, name)
        if obj is None:
            return None
        data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data

    def claim(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get("persistentvolumeclaims", namespace, name)

    def volume(self, name: str) -> dict[str, Any] | None:
        return self.kube.get(f"/api/v1/persistentvolumes/{name}")

    def token(self, namespace: str, service_account: str, body: Mapping[str, Any]) -> str:
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token"
        return str(self.kube.request("POST", path, body=body)["status"]["token"])


def _source_files(
    pod: Mapping[str, Any],
    kind: str,
    source: Mapping[str, Any],
    field: str,
    lookups: ApiLookups,
    node_allocatable: Mapping[str, str],
) -> list[FileEntry]:
    namespace = pod["metadata"]["namespace"]
    if kind in ("configMap", "secret"):
        name = source.get("name" if kind == "configMap" else "secretName", "")
        data = (lookups.config_map if kind == "configMap" else lookups.secret)(namespace, name)
        description = f"{'ConfigMap' if kind == 'configMap' else 'Secret'} {namespace}/{name}"
        if data is None:
            if source.get("optional", False):
                return []
            raise ConfigError(
                field, f"{description} does not exist; create it, or set optional: true"
            )
        return key_files(data, source, field, description)
    if kind == "downwardAPI":
        return downward_files(pod, source, field, node_allocatable)
    if kind == "serviceAccountToken":
        account = pod["spec"].get("serviceAccountName") or "default"
        token = lookups.token(namespace, account, token_request_body(pod, source))
        return [FileEntry(source.get("path", "token"), token.encode(), 0o600)]
    raise PodRejected(
        field,
        f"projected source {kind!r} is not supported by the local node agent; use configMap, "
        "secret, downwardAPI or serviceAccountToken",
    )


def volume_files(
    pod: Mapping[str, Any],
    volume: Volume,
    lookups: ApiLookups,
    node_allocatable: Mapping[str, str],
) -> list[FileEntry]:
    if volume.kind != "projected":
        return _source_files(
            pod, volume.kind, volume.source, volume.field, lookups, node_allocatable
        )
    files = []
    mode = volume.source.get("defaultMode")
    for j, entry in enumerate(volume.source.get("sources") or []):
        kind = next(iter(entry))
        source = dict(entry[kind] or {})
        if mode is not None and kind != "serviceAccountToken":
            source.setdefault("defaultMode", mode)
        files += _source_files(
            pod,
            kind,
            source,
            f"{volume.field}.projected.sources[{j}].{kind}",
            lookups,
            node_allocatable,
        )
    return files


def claim_path(pod: Mapping[str, Any], volume: Volume, lookups: ApiLookups) -> str:
    """The host directory of a PersistentVolumeClaim's bound hostPath/local volume."""
    namespace = pod["metadata"]["namespace"]
    name = volume.source.get("claimName", "")
    field = f"{volume.field}.persistentVolumeClaim.claimName"
    pvc = lookups.claim(namespace, name)
    if pvc is None:
        raise ConfigError(
            field, f"PersistentVolumeClaim {namespace}/{name} does not exist; create it"
        )
    pv_name = pvc_volume_name(pvc)
    if pv_name is None:
        raise ConfigError(
            field,
            f"PersistentVolumeClaim {namespace}/{name} is not bound to a volume yet "
            f"(phase {(pvc.get('status') or {}).get('phase', 'Pending')}); bind it to a "
            "hostPath or local PersistentVolume",
        )
    pv = lookups.volume(pv_name)
    path = pv_host_path(pv) if pv else None
    if path is None:
        raise PodRejected(
            field,
            f"PersistentVolume {pv_name} (bound to claim {namespace}/{name}) has no hostPath or "
            "local path; the local node agent can only mount host directories",
        )
    os.makedirs(path, exist_ok=True)
    return path


def write_files(directory: Path, files: list[FileEntry]) -> None:
    """Replace a directory's content with `files`."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for entry in files:
        target = directory / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(entry.content)
        target.chmod(entry.mode & 0o777)


def materialize_volumes(
    pod: Mapping[str, Any],
    volumes: list[Volume],
    volumes_dir: Path,
    lookups: ApiLookups,
    node_allocatable: Mapping[str, str],
) -> dict[str, str]:
    """Every volume as a host directory; returns volume name -> path."""
    paths: dict[str, str] = {}
    for volume in volumes:
        if volume.kind == "persistentVolumeClaim":
            paths[volume.name] = claim_path(pod, volume, lookups)
        elif volume.kind == "hostPath":
            path = str(volume.source.get("path", ""))
            if not os.path.exists(path) and volume.source.get("type") in (
                "DirectoryOrCreate",
                None,
                "",
            ):
                os.makedirs(path)
            paths[volume.name] = path
        elif volume.kind == "emptyDir":
            directory = volumes_dir / volume.name
            directory.mkdir(parents=True, exist_ok=True)
            paths[volume.name] = str(directory)
        else:
            directory = volumes_dir / volume.name
            write_files(directory, volume_files(pod, volume, lookups, node_allocatable))
            paths[volume.name] = str(directory)
    return paths
