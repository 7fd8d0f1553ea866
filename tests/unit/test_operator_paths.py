"""API paths for every child kind, and the SFTJob view the operator keeps in memory."""

from __future__ import annotations

import pytest
from sftjob_operator import k8s
from sftjob_operator.k8s import collection_path, write_key
from sftjob_operator.render import render_children
from sftjob_operator.views import sft_view

from tests.unit.test_render_cases import CASES


@pytest.mark.parametrize(
    ("api_version", "kind", "path"),
    [
        ("v1", "ConfigMap", "/api/v1/namespaces/ns/configmaps"),
        ("batch/v1", "Job", "/apis/batch/v1/namespaces/ns/jobs"),
        (
            "rbac.authorization.k8s.io/v1",
            "Role",
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles",
        ),
        ("sftjob.dev/v1alpha1", "SFTJob", "/apis/sftjob.dev/v1alpha1/namespaces/ns/sftjobs"),
    ],
)
def test_collection_path(api_version: str, kind: str, path: str) -> None:
    assert collection_path(api_version, kind, "ns") == path


def test_every_rendered_kind_has_a_path() -> None:
    for body, trl in CASES.values():
        for child in render_children(body, trl):
            assert collection_path(child["apiVersion"], child["kind"], "ns")


def test_sft_view_reads_spec_labels_and_status() -> None:
    body, _ = CASES["kueue"]
    view = sft_view(
        {
            **body,
            "metadata": {**body["metadata"], "generation": 4},
            "spec": {**body["spec"], "ttlSecondsAfterFinished": 60},
            "status": {"phase": "Running", "kopf": {"progress": {}}},
        }
    )
    assert (
        view.spec.nodes,
        view.queued,
        view.generation,
        view.spec.ttl_seconds_after_finished,
    ) == (
        2,
        True,
        4,
        60,
    )
    assert view.status == {"phase": "Running"}  # kopf's own bookkeeping is not ours
    assert view.ref["metadata"]["uid"] == "uid-queued"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"HOME": "/root", "PATH": "/bin"}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"https_proxy": "http://proxy:3128"}, True),
        ({"NETRC": "/etc/netrc"}, True),
        ({"HTTPS_PROXY": ""}, False),
    ],
)
def test_environment_lookups_are_kept_only_where_the_environment_asks(
    environ: dict[str, str], expected: bool
) -> None:
    assert k8s.uses_env_proxy_or_netrc(environ) is expected


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/api/v1/namespaces/ns/configmaps", "POST configmaps"),
        ("POST", "/api/v1/namespaces/ns/configmaps?fieldValidation=Strict", "POST configmaps"),
        (
            "PATCH",
            "/apis/sftjob.dev/v1alpha1/namespaces/ns/sftjobs/j/status",
            "PATCH sftjobs/status",
        ),
        ("PATCH", "/apis/batch/v1/namespaces/ns/jobs/j-a1", "PATCH jobs"),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs/j-a1", "DELETE jobs"),
    ],
)
def test_writes_are_counted_by_kind_not_by_name(method: str, path: str, key: str) -> None:
    assert write_key(method, path) == key
