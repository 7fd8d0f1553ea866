"""Node and Lease manifests and field paths of the local node agent (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sftjob_devcluster.nodeagent.config import AgentConfig
from sftjob_devcluster.nodeagent.execshim import (
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_RDONLY,
    MS_REMOUNT,
    readonly_remount_flags,
)
from sftjob_devcluster.nodeagent.fieldpaths import FieldPathError, parse_quantity
from sftjob_devcluster.nodeagent.node import lease_manifest, node_manifest

CONFIG = AgentConfig(kubeconfig=Path("/k"), state_dir=Path("/s"))


def test_node_is_labelled_tainted_and_has_no_gpus() -> None:
    node = node_manifest(CONFIG, "2026-01-01T00:00:00Z")
    assert node["metadata"]["name"] == "local-cpu"
    assert node["metadata"]["labels"]["sftjob.dev/local-node"] == "true"
    assert node["spec"]["taints"] == [
        {"key": "sftjob.dev/local-node", "value": "true", "effect": "NoSchedule"}
    ]
    assert node["status"]["allocatable"] == {
        "cpu": "16",
        "memory": "64Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
        "nvidia.com/gpu": "0",
    }
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_lease_is_owned_by_the_node() -> None:
    lease = lease_manifest("local-cpu", "uid-1", "2026-01-01T00:00:00.000000Z")
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert lease["spec"]["holderIdentity"] == "local-cpu"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", 0.5),
        ("2", 2),
        ("1Gi", 2**30),
        ("1.5k", 1500),
        ("1e3", 1000),
        ("100Mi", 100 * 2**20),
    ],
)
def test_quantities(text: str, value: float) -> None:
    assert parse_quantity(text) == value


def test_bad_quantity() -> None:
    with pytest.raises(FieldPathError, match="not a quantity"):
        parse_quantity("12 GB")


def test_readonly_remount_keeps_locked_flags() -> None:
    assert readonly_remount_flags(0) == MS_BIND | MS_REMOUNT | MS_RDONLY
    assert (
        readonly_remount_flags(0x2 | 0x4) == MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    )
