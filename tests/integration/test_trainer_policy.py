"""The trainer admission policy on a real kube-apiserver: a trainer pod's token may patch
its own job's progress record and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.render import trainer_identity
from sftjob_trainer.progress_k8s import ConfigMapReporter, configmap_url

from tests.operator_fixtures import wait_for
from tests.trainer_tokens import bound_token, configmap_path, pending_pod, request

pytestmark = pytest.mark.integration
PROGRESS = {"data": {"progress.json": "{}"}}


def config_cm(job: str) -> dict[str, Any]:
    """A job's config ConfigMap as the operator makes it: the config the pods mount, and
    the job's progress channel."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{job}-config",
            "labels": {"sftjob.dev/job-name": job, "sftjob.dev/component": "config"},
        },
        "data": {"trl.yaml": "operator data"},
    }


@pytest.fixture
def trainer_namespace(devcluster: Any, crd: None, namespace: str) -> str:
    """The shared identity, config ConfigMaps of a few jobs, and pods to bind tokens to."""
    docs = [
        *trainer_identity(namespace),
        *(config_cm(job) for job in ("mine", "other", "mine-a1", "a.b", "axb")),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain"}, "data": {}},
        *(pending_pod(p) for p in ("mine-a1-0-abcde", "mine-a1-a1-0-abcde", "a.b-a2-1-xyz12")),
    ]
    devcluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(docs))
    token = bound_token(devcluster, namespace, "mine-a1-0-abcde")
    # A new RoleBinding reaches the authorizer through an informer.
    wait_for(
        "the trainer RoleBinding to take effect",
        lambda: "cannot patch" not in patch(devcluster, token, namespace, "mine-config")[1],
    )
    return namespace


def patch(
    devcluster: Any, token: str, namespace: str, cm: str, body: Any = None
) -> tuple[int, str]:
    return request(devcluster, token, "PATCH", configmap_path(namespace, cm), body or PROGRESS)


def data_of(devcluster: Any, namespace: str, cm: str) -> dict[str, str]:
    out = devcluster.kubectl("get", "cm", cm, "-n", namespace, "-o", "json").stdout
    return dict(json.loads(out).get("data") or {})


def test_a_trainer_pod_writes_its_own_progress_with_the_trainers_reporter(
    devcluster: Any, trainer_namespace: str, tmp_path: Path
) -> None:
    ns = trainer_namespace
    token = tmp_path / "token"
    token.write_text(bound_token(devcluster, ns, "mine-a1-0-abcde"))
    host, port = devcluster.server.removeprefix("https://").rsplit(":", 1)
    url = configmap_url(host, port, ns, "mine-config")
    ConfigMapReporter(url, token, devcluster.ca_file).report({"step": 2})
    assert data_of(devcluster, ns, "mine-config") == {
        "trl.yaml": "operator data",
        "progress.json": '{"step": 2}',
    }
    labels = json.loads(
        devcluster.kubectl("get", "cm", "mine-config", "-n", ns, "-o", "json").stdout
    )["metadata"]["labels"]
    assert labels == {
        "sftjob.dev/job-name": "mine",
        "sftjob.dev/component": "config",
        "sftjob.dev/progress": "reported",
    }
    # Every later record sets the label again: unchanged, still allowed.
    ConfigMapReporter(url, token, devcluster.ca_file).report({"step": 3})
    assert data_of(devcluster, ns, "mine-config")["progress.json"] == '{"step": 3}'


def test_job_names_are_matched_literally(devcluster: Any, trainer_namespace: str) -> None:
    ns = trainer_namespace
    dotted = bound_token(devcluster, ns, "a.b-a2-1-xyz12")
    assert patch(devcluster, dotted, ns, "a.b-config") == (200, "")
    code, message = patch(devcluster, dotted, ns, "axb-config")
    assert (code, "does not belong to SFTJob axb" in message) == (403, True), message
    # A job named like one of mine's attempts is another job: its pods are not mine's.
    lookalike = bound_token(devcluster, ns, "mine-a1-a1-0-abcde")
    code, message = patch(devcluster, lookalike, ns, "mine-config")
    assert (code, "does not belong to SFTJob mine" in message) == (403, True), message


@pytest.mark.parametrize(
    ("pod", "cm", "body", "why"),
    [
        ("mine-a1-0-abcde", "other-config", None, "does not belong to SFTJob other"),
        ("mine-a1-0-abcde", "plain", None, "its own job's <job>-config ConfigMap"),
        (None, "mine-config", None, "only with a token bound to a trainer pod"),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"data": {"trl.yaml": "changed"}},
            "may change only data['progress.json']",
        ),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"data": {"trl.yaml": None}},
            "may change only data['progress.json']",
        ),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"binaryData": {"x": "YQ=="}},
            "may change only data['progress.json']",
        ),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"metadata": {"labels": {"sftjob.dev/job-name": "other"}}},
            "labels, annotations or owners",
        ),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"metadata": {"annotations": {"a": "b"}}},
            "labels, annotations or owners",
        ),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"metadata": {"labels": {"sftjob.dev/progress": "other"}}},
            "except to set the label sftjob.dev/progress=reported",
        ),
        (
            "mine-a1-0-abcde",
            "mine-config",
            {"metadata": {"labels": {"sftjob.dev/component": None}}},
            "labels, annotations or owners",
        ),
    ],
)
def test_a_trainer_pod_cannot_write_anything_else(
    devcluster: Any,
    trainer_namespace: str,
    pod: str | None,
    cm: str,
    body: Any,
    why: str,
) -> None:
    ns = trainer_namespace
    code, message = patch(devcluster, bound_token(devcluster, ns, pod), ns, cm, body)
    assert code == 403 and why in message, (code, message)
    assert data_of(devcluster, ns, cm).get("trl.yaml", "operator data") == "operator data"


def test_rbac_denies_what_the_policy_never_sees(devcluster: Any, trainer_namespace: str) -> None:
    ns = trainer_namespace
    for verb, resource in [
        ("create", "configmaps"),
        ("get", "configmaps"),
        ("delete", "configmaps"),
        ("get", "secrets"),
        ("patch", "sftjobs.sftjob.dev/status"),
        ("create", "pods"),
    ]:
        can = devcluster.kubectl(
            "auth", "can-i", verb, resource, "-n", ns,
            f"--as=system:serviceaccount:{ns}:sftjob-trainer", check=False,
        )  # fmt: skip
        assert can.stdout.strip() == "no", (verb, resource)
