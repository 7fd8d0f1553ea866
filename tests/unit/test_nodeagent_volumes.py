"""Volume plans and container mounts of the local node agent (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_devcluster.nodeagent.errors import ConfigError, PodRejected
from sftjob_devcluster.nodeagent.volumes import (
    BindMount,
    FileEntry,
    container_mounts,
    downward_files,
    key_files,
    plan_volumes,
    pv_host_path,
    pvc_volume_name,
    safe_relative,
    shadows,
    termination_message_path,
    token_request_body,
    visible_mounts,
)

POD: dict[str, Any] = {
    "metadata": {
        "name": "p",
        "namespace": "ns",
        "uid": "u1",
        "labels": {"b": "2", "a": 'say "hi"'},
    },
    "spec": {
        "containers": [{"name": "main", "resources": {"limits": {"cpu": "2"}}}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "scratch", "emptyDir": {"medium": "Memory"}},
            {"name": "out", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "kube-api-access-x", "projected": {"sources": []}},
        ],
    },
}


def test_plan_keeps_order_and_kinds() -> None:
    plan = plan_volumes(POD)
    assert [(v.name, v.kind, v.field) for v in plan] == [
        ("cfg", "configMap", "spec.volumes[0]"),
        ("scratch", "emptyDir", "spec.volumes[1]"),
        ("out", "persistentVolumeClaim", "spec.volumes[2]"),
        ("kube-api-access-x", "projected", "spec.volumes[3]"),
    ]


def test_unsupported_volume_kind_is_rejected_with_alternatives() -> None:
    pod = {"spec": {"volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}}
    with pytest.raises(PodRejected) as err:
        plan_volumes(pod)
    assert err.value.field == "spec.volumes[0]"
    assert "nfs is not supported" in err.value.message
    assert "persistentVolumeClaim" in err.value.message


def test_key_files_all_keys_and_items() -> None:
    data = {"b": b"2", "a": b"1"}
    assert key_files(data, {}, "f", "ConfigMap ns/c") == [
        FileEntry("a", b"1", 0o644),
        FileEntry("b", b"2", 0o644),
    ]
    assert key_files(
        data,
        {
            "defaultMode": 0o400,
            "items": [{"key": "a", "path": "sub/x.yaml", "mode": 0o600}, {"key": "b", "path": "y"}],
        },
        "f",
        "d",
    ) == [FileEntry("sub/x.yaml", b"1", 0o600), FileEntry("y", b"2", 0o400)]


def test_key_files_missing_item_key() -> None:
    with pytest.raises(ConfigError) as err:
        key_files(
            {"a": b"1"},
            {"items": [{"key": "zz", "path": "p"}]},
            "spec.volumes[0].configMap",
            "ConfigMap ns/c",
        )
    assert err.value.field == "spec.volumes[0].configMap.items[0].key"
    assert (
        key_files({"a": b"1"}, {"optional": True, "items": [{"key": "zz", "path": "p"}]}, "f", "d")
        == []
    )


@pytest.mark.parametrize("bad", ["/etc/passwd", "../up", "a/../../up", ""])
def test_paths_must_stay_inside_the_volume(bad: str) -> None:
    with pytest.raises(PodRejected):
        safe_relative(bad, "f")


def test_downward_files() -> None:
    files = downward_files(
        POD,
        {
            "items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {
                    "path": "cpu",
                    "resourceFieldRef": {
                        "containerName": "main",
                        "resource": "limits.cpu",
                        "divisor": "1m",
                    },
                },
            ]
        },
        "spec.volumes[9].downwardAPI",
        {},
    )
    assert files == [
        FileEntry("labels", b'a="say \\"hi\\""\nb="2"', 0o644),
        FileEntry("name", b"p", 0o644),
        FileEntry("cpu", b"2000", 0o644),
    ]


def test_token_request_is_bound_to_the_pod() -> None:
    body = token_request_body(POD, {"path": "token", "expirationSeconds": 3607, "audience": "api"})
    assert body["spec"] == {
        "expirationSeconds": 3607,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1"},
        "audiences": ["api"],
    }
    assert "audiences" not in token_request_body(POD, {})["spec"]


def test_claim_binding_and_host_path() -> None:
    assert pvc_volume_name({"spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}}) == "pv1"
    assert pvc_volume_name({"spec": {}, "status": {"phase": "Pending"}}) is None
    assert pv_host_path({"spec": {"hostPath": {"path": "/data/x"}}}) == "/data/x"
    assert pv_host_path({"spec": {"local": {"path": "/mnt/d"}}}) == "/mnt/d"
    assert pv_host_path({"spec": {"nfs": {"server": "s", "path": "/"}}}) is None


def test_container_mounts_sorted_parents_first_with_subpaths() -> None:
    container = {
        "volumeMounts": [
            {"name": "out", "mountPath": "/workspace/output/run"},
            {"name": "cfg", "mountPath": "/etc/sftjob/", "readOnly": True},
            {"name": "scratch", "mountPath": "/workspace", "subPath": "ws"},
            {"name": "scratch", "mountPath": "/per-pod", "subPathExpr": "$(POD)/x"},
        ]
    }
    paths = {"cfg": "/s/cfg", "scratch": "/s/scratch", "out": "/data/out"}
    mounts = container_mounts(container, "spec.containers[0]", paths, {"POD": "p0"})
    assert mounts == [
        BindMount("/s/scratch/ws", "/workspace", False),
        BindMount("/s/scratch/p0/x", "/per-pod", False),
        BindMount("/s/cfg", "/etc/sftjob", True),
        BindMount("/data/out", "/workspace/output/run", False),
    ]


def test_mount_of_an_unknown_volume() -> None:
    with pytest.raises(PodRejected) as err:
        container_mounts(
            {"volumeMounts": [{"name": "zz", "mountPath": "/x"}]}, "spec.containers[0]", {}, {}
        )
    assert err.value.field == "spec.containers[0].volumeMounts[0].name"


def test_termination_message_path_default() -> None:
    assert termination_message_path({}) == "/dev/termination-log"
    assert termination_message_path({"terminationMessagePath": "/tmp/t"}) == "/tmp/t"


def test_a_volume_that_would_hide_the_project_is_left_out() -> None:
    tmp = BindMount("/state/pods/p/volumes/tmp", "/tmp", False)
    data = BindMount("/state/pods/p/volumes/data", "/data", False)
    made, left = visible_mounts([tmp, data], ["/tmp/checkout/.venv", "/tmp/checkout"])
    assert (made, left) == ([data], [tmp])
    assert visible_mounts([tmp], ["/work/checkout"]) == ([tmp], [])
    assert not shadows("/tm", ["/tmp/checkout"]) and shadows("/tmp/", ["/tmp"])
