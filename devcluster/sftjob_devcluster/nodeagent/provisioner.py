"""A hostPath volume provisioner for the StorageClass `sftjob-local`.

A claim of that class gets a PersistentVolume backed by a directory under the
agent's state dir (every access mode works: all pods run on this one machine).
Binding waits for the first consumer, and an agent provisions only the claims the
scheduler selected its node for, so several agents on one cluster never race.
Released volumes are deleted with their directory. Dev and tests only.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .kube import ApiError, Kube

log = logging.getLogger(__name__)
STORAGE_CLASS = "sftjob-local"
PROVISIONER = "sftjob.dev/local-hostpath"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def storage_class_manifest(default: bool) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true" if default else "false"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def wants_volume(pvc: Mapping[str, Any], node_name: str) -> bool:
    """An unbound claim of our class whose first consumer was scheduled onto our node."""
    spec = pvc.get("spec") or {}
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    return (
        spec.get("storageClassName") == STORAGE_CLASS
        and annotations.get(SELECTED_NODE) == node_name
        and not spec.get("volumeName")
        and (pvc.get("status") or {}).get("phase", "Pending") == "Pending"
        and not (pvc.get("metadata") or {}).get("deletionTimestamp")
    )


def volume_for(pvc: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """The PersistentVolume that satisfies a claim, pre-bound to it."""
    meta, spec = pvc["metadata"], pvc.get("spec") or {}
    name = f"pvc-{meta['uid']}"
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": str(root / name), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
        },
    }


def is_released_ours(pv: Mapping[str, Any]) -> bool:
    annotations = (pv.get("metadata") or {}).get("annotations") or {}
    return annotations.get(PROVISIONED_BY) == PROVISIONER and (pv.get("status") or {}).get(
        "phase"
    ) in ("Released", "Failed")


class Provisioner:
    """Polls claims and volumes every few seconds (simple, and enough for a dev cluster)."""

    def __init__(
        self,
        kube: Kube,
        root: Path,
        node_name: str,
        default_class: bool = False,
        interval: float = 2.0,
    ) -> None:
        self.kube = kube
        self.root = root
        self.node_name = node_name
        self.default_class = default_class
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> None:
        manifest = storage_class_manifest(self.default_class)
        try:
            self.kube.request("POST", "/apis/storage.k8s.io/v1/storageclasses", body=manifest)
        except ApiError as err:
            if err.status != 409:
                raise

    def sync(self) -> None:
        claims = self.kube.request("GET", "/api/v1/persistentvolumeclaims").get("items") or []
        for pvc in claims:
            if wants_volume(pvc, self.node_name):
                pv = volume_for(pvc, self.root)
                try:
                    self.kube.request("POST", "/api/v1/persistentvolumes", body=pv)
                    log.info(
                        "provisioned %s for claim %s/%s at %s",
                        pv["metadata"]["name"],
                        pvc["metadata"]["namespace"],
                        pvc["metadata"]["name"],
                        pv["spec"]["hostPath"]["path"],
                    )
                except ApiError as err:
                    if err.status != 409:
                        raise
        volumes = self.kube.request("GET", "/api/v1/persistentvolumes").get("items") or []
        for pv in volumes:
            if is_released_ours(pv):
                name = pv["metadata"]["name"]
                path = Path((pv["spec"].get("hostPath") or {}).get("path", ""))
                if path.name == name:  # our layout; possibly another agent's root
                    shutil.rmtree(path, ignore_errors=True)
                try:
                    self.kube.request("DELETE", f"/api/v1/persistentvolumes/{name}")
                    log.info("deleted released volume %s", name)
                except ApiError as err:
                    if err.status != 404:
                        raise

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.install()
        self._thread = threading.Thread(target=self._loop, name="provisioner", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception as err:  # keep going through API hiccups
                log.warning("volume provisioner: %s", err)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
