"""What a pod's volumes hold and where each container sees them (pure).

The I/O that fetches and writes the contents lives in materialize.py.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import DEFAULT_TERMINATION_MESSAGE_PATH
from .envresolve import expand
from .errors import ConfigError, PodRejected
from .fieldpaths import FieldPathError, resolve_field_ref, resolve_resource_ref

SUPPORTED_KINDS = (
    "configMap",
    "secret",
    "emptyDir",
    "downwardAPI",
    "projected",
    "persistentVolumeClaim",
    "hostPath",
)
DEFAULT_MODE = 0o644


@dataclass(frozen=True)
class Volume:
    name: str
    kind: str
    source: Mapping[str, Any]
    field: str  # e.g. "spec.volumes[2]"


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the volume directory
    content: bytes
    mode: int


@dataclass(frozen=True)
class BindMount:
    source: str
    target: str
    read_only: bool


def plan_volumes(pod: Mapping[str, Any]) -> list[Volume]:
    """The pod's volumes; a kind the agent cannot provide rejects the pod."""
    volumes = []
    for i, vol in enumerate((pod.get("spec") or {}).get("volumes") or []):
        field = f"spec.volumes[{i}]"
        kinds = [k for k in vol if k != "name"]
        kind = next((k for k in kinds if k in SUPPORTED_KINDS), None)
        if kind is None:
            raise PodRejected(
                field,
                f"volume {vol.get('name')!r} of kind {', '.join(kinds) or '(none)'} is not "
                f"supported by the local node agent; use one of {', '.join(SUPPORTED_KINDS)}",
            )
        volumes.append(Volume(vol["name"], kind, vol[kind] or {}, field))
    return volumes


def safe_relative(path: str, field: str) -> str:
    """A file path inside a volume; absolute paths and '..' are refused."""
    norm = posixpath.normpath(path)
    if not path or posixpath.isabs(path) or norm == ".." or norm.startswith("../"):
        raise PodRejected(field, f"path {path!r} must be relative and must not contain '..'")
    return norm


def key_files(
    data: Mapping[str, bytes],
    source: Mapping[str, Any],
    field: str,
    description: str,
) -> list[FileEntry]:
    """ConfigMap/Secret data as files: every key, or only `items` (key -> path, mode)."""
    default_mode = int(source.get("defaultMode", DEFAULT_MODE))
    items = source.get("items")
    if not items:
        return [FileEntry(safe_relative(k, field), data[k], default_mode) for k in sorted(data)]
    files = []
    for j, item in enumerate(items):
        key = item.get("key", "")
        if key not in data:
            if source.get("optional", False):
                continue
            raise ConfigError(
                f"{field}.items[{j}].key",
                f"{description} has no key {key!r} (keys: {sorted(data)}); add it, "
                "or set optional: true",
            )
        path = safe_relative(item.get("path", key), f"{field}.items[{j}].path")
        files.append(FileEntry(path, data[key], int(item.get("mode", default_mode))))
    return files


def downward_files(
    pod: Mapping[str, Any],
    source: Mapping[str, Any],
    field: str,
    node_allocatable: Mapping[str, str],
) -> list[FileEntry]:
    """downwardAPI items as files."""
    default_mode = int(source.get("defaultMode", DEFAULT_MODE))
    containers = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
    files = []
    for j, item in enumerate(source.get("items") or []):
        where = f"{field}.items[{j}]"
        try:
            if "fieldRef" in item:
                value = resolve_field_ref(pod, item["fieldRef"].get("fieldPath", ""))
            elif "resourceFieldRef" in item:
                ref = item["resourceFieldRef"]
                container = containers.get(ref.get("containerName", ""))
                if container is None:
                    raise PodRejected(
                        f"{where}.resourceFieldRef.containerName",
                        f"names no container of this pod; use one of {sorted(containers)}",
                    )
                value = resolve_resource_ref(
                    container, ref.get("resource", ""), ref.get("divisor"), node_allocatable
                )
            else:
                raise PodRejected(where, "set fieldRef or resourceFieldRef")
        except FieldPathError as err:
            raise PodRejected(where, str(err)) from None
        path = safe_relative(item.get("path", ""), f"{where}.path")
        files.append(FileEntry(path, value.encode(), int(item.get("mode", default_mode))))
    return files


def token_request_body(pod: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """A TokenRequest for a projected serviceAccountToken, bound to the pod."""
    meta = pod.get("metadata") or {}
    spec: dict[str, Any] = {
        "expirationSeconds": int(source.get("expirationSeconds", 3600)),
        "boundObjectRef": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta.get("name"),
            "uid": meta.get("uid"),
        },
    }
    if source.get("audience"):
        spec["audiences"] = [source["audience"]]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def pvc_volume_name(pvc: Mapping[str, Any]) -> str | None:
    """The PV a claim is bound to, or None while it is not bound."""
    if (pvc.get("status") or {}).get("phase") != "Bound":
        return None
    return (pvc.get("spec") or {}).get("volumeName") or None


def pv_host_path(pv: Mapping[str, Any]) -> str | None:
    """The host directory behind a PV (hostPath or local), or None for any other kind."""
    spec = pv.get("spec") or {}
    for kind in ("hostPath", "local"):
        path = (spec.get(kind) or {}).get("path")
        if path:
            return str(path)
    return None


def _depth(path: str) -> int:
    return len([p for p in posixpath.normpath(path).split("/") if p])


def container_mounts(
    container: Mapping[str, Any],
    container_field: str,
    volume_paths: Mapping[str, str],
    env: Mapping[str, str],
) -> list[BindMount]:
    """Bind mounts for one container's volumeMounts, parents before children."""
    mounts = []
    for i, mount in enumerate(container.get("volumeMounts") or []):
        where = f"{container_field}.volumeMounts[{i}]"
        name = mount.get("name", "")
        if name not in volume_paths:
            raise PodRejected(f"{where}.name", f"no volume named {name!r} in spec.volumes")
        target = mount.get("mountPath", "")
        if not posixpath.isabs(target):
            raise PodRejected(f"{where}.mountPath", f"{target!r} must be an absolute path")
        source = volume_paths[name]
        sub = mount.get("subPath") or ""
        if mount.get("subPathExpr"):
            sub = expand(mount["subPathExpr"], env.get)
        if sub:
            source = posixpath.join(source, safe_relative(sub, f"{where}.subPath"))
        mounts.append(BindMount(source, posixpath.normpath(target), bool(mount.get("readOnly"))))
    return sorted(mounts, key=lambda m: _depth(m.target))


def termination_message_path(container: Mapping[str, Any]) -> str:
    return str(container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH)


def shadows(target: str, kept: Iterable[str]) -> bool:
    """Mounting at `target` would hide one of the host paths the local process needs."""
    base = posixpath.normpath(target)
    return any(
        posixpath.normpath(path) == base
        or posixpath.normpath(path).startswith(base.rstrip("/") + "/")
        for path in kept
    )


def visible_mounts(
    mounts: Iterable[BindMount], kept: Iterable[str]
) -> tuple[list[BindMount], list[BindMount]]:
    """(the mounts to make, those left out). Pods on the local node are processes of this
    machine: a volume mounted over a directory that holds the project's environment or the
    agent's state (an emptyDir at /tmp, when the checkout lives under /tmp) would hide the
    very program the pod runs. Such a volume is left out; the process sees the host's
    directory there instead."""
    paths = list(kept)
    made: list[BindMount] = []
    left: list[BindMount] = []
    for mount in mounts:
        (left if shadows(mount.target, paths) else made).append(mount)
    return made, left
