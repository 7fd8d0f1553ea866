"""The node agent's hostPath provisioner (pure parts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sftjob_devcluster.nodeagent.provisioner import (
    is_released_ours,
    storage_class_manifest,
    volume_for,
    wants_volume,
)

CLAIM: dict[str, Any] = {
    "metadata": {
        "name": "out",
        "namespace": "ns",
        "uid": "u-9",
        "annotations": {"volume.kubernetes.io/selected-node": "local-cpu"},
    },
    "spec": {
        "storageClassName": "sftjob-local",
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "5Gi"}},
    },
    "status": {"phase": "Pending"},
}


def test_only_unbound_claims_of_our_class_on_our_node_want_a_volume() -> None:
    node = "local-cpu"
    assert wants_volume(CLAIM, node)
    assert not wants_volume(CLAIM, "another-node")
    unscheduled = {**CLAIM, "metadata": {**CLAIM["metadata"], "annotations": {}}}
    assert not wants_volume(unscheduled, node)
    assert not wants_volume({**CLAIM, "spec": {**CLAIM["spec"], "storageClassName": "fast"}}, node)
    assert not wants_volume({**CLAIM, "spec": {**CLAIM["spec"], "volumeName": "pv-1"}}, node)
    assert not wants_volume({**CLAIM, "status": {"phase": "Bound"}}, node)


def test_volume_is_prebound_to_the_claim_under_the_root() -> None:
    pv = volume_for(CLAIM, Path("/state/volumes"))
    assert pv["metadata"]["name"] == "pvc-u-9"
    assert pv["spec"]["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "ns",
        "name": "out",
        "uid": "u-9",
    }
    assert pv["spec"]["hostPath"]["path"] == "/state/volumes/pvc-u-9"
    assert pv["spec"]["capacity"] == {"storage": "5Gi"}
    assert pv["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"


def test_released_detection_and_default_class() -> None:
    pv = volume_for(CLAIM, Path("/r"))
    assert not is_released_ours({**pv, "status": {"phase": "Bound"}})
    assert is_released_ours({**pv, "status": {"phase": "Released"}})
    assert not is_released_ours({"metadata": {}, "status": {"phase": "Released"}})
    annotations = storage_class_manifest(True)["metadata"]["annotations"]
    assert annotations["storageclass.kubernetes.io/is-default-class"] == "true"
