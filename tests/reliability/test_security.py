"""Security on the real devcluster, with the operator running: Pod Security `restricted`, what
a trainer token may do, where credentials are seen, and namespaces kept apart."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api.identity import LABEL_JOB_NAME, PLURAL
from sftjob_operator.render.names import TRAINER_SERVICE_ACCOUNT
from sftjob_trainer.progress_k8s import ConfigMapReporter, configmap_url

from tests.operator_fixtures import (
    COMPLETE_DELAY,
    OperatorProcess,
    apply,
    children,
    condition,
    phase_is,
    sftjob,
    status,
    wait_for,
    wait_for_create_failed,
)
from tests.trainer_tokens import bound_token, configmap_path, request

pytestmark = [pytest.mark.reliability, pytest.mark.integration]
LONG = {COMPLETE_DELAY: "600s"}  # kwok keeps these pods Running
CPU = {"gpusPerNode": 0}
RESTRICTED = ("enforce", "warn", "audit")


def running_pods(kube: Any, namespace: str, job: str, count: int = 1) -> list[Any] | None:
    pods = [p for p in children(kube, namespace, job, "Pod") if p.status.phase == "Running"]
    return pods if len(pods) >= count else None


def events(devcluster: Any, namespace: str) -> list[dict[str, Any]]:
    out = devcluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    return list(json.loads(out)["items"])


# -- Pod Security ---------------------------------------------------------------------


def test_rendered_pods_are_admitted_under_restricted(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    devcluster.kubectl(
        "label", "namespace", namespace,
        *(f"pod-security.kubernetes.io/{mode}=restricted" for mode in RESTRICTED),
    )  # fmt: skip
    # The label is enforced: a pod without restricted's settings is refused here.
    plain = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "plain", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    refused = devcluster.kubectl("apply", "-f", "-", input=json.dumps(plain), check=False)
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr, refused.stderr
    apply(
        devcluster,
        sftjob("ps", namespace, nodes=2, annotations=LONG, **CPU),
    )
    pods = wait_for("both pods Running", lambda: running_pods(kube, namespace, "ps", 2))
    assert len(pods) == 2
    assert phase_is(devcluster, namespace, "ps", "Running") or wait_for(
        "Running", lambda: phase_is(devcluster, namespace, "ps", "Running")
    )
    failed = [e["message"] for e in events(devcluster, namespace) if e["reason"] == "FailedCreate"]
    assert failed == []


# -- the trainer's token ----------------------------------------------------------------


def test_a_trainer_token_may_report_progress_and_nothing_else(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str, tmp_path: Path
) -> None:
    ns = namespace
    devcluster.kubectl("create", "secret", "generic", "hf", "-n", ns, "--from-literal=token=t")
    apply(
        devcluster,
        sftjob("mine", ns, annotations=LONG, **CPU),
        sftjob("other", ns, annotations=LONG, **CPU),
    )
    (pod,) = wait_for("mine's pod Running", lambda: running_pods(kube, ns, "mine"))
    wait_for("other's pod Running", lambda: running_pods(kube, ns, "other"))
    assert pod.spec.service_account_name == TRAINER_SERVICE_ACCOUNT
    # A token from the TokenRequest API, bound to the pod as the kubelet binds it.
    token_file = tmp_path / "token"
    token_file.write_text(bound_token(devcluster, ns, pod.metadata.name))
    token = token_file.read_text()
    host, port = devcluster.server.removeprefix("https://").rsplit(":", 1)
    reporter = ConfigMapReporter(
        configmap_url(host, port, ns, "mine-config"), token_file, devcluster.ca_file
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {"event": "progress", "time": now, "step": 1, "max_steps": 2}

    def reported() -> bool:
        try:
            reporter.report(record)
        except OSError:
            return False  # the operator's RoleBinding reaches the authorizer a moment later
        return True

    wait_for("the one allowed progress patch", reported)
    wait_for("the record in status", lambda: status(devcluster, ns, "mine").get("progress"))

    sft = f"/apis/sftjob.dev/v1alpha1/namespaces/{ns}/{PLURAL}"
    progress = {"data": {"progress.json": json.dumps(record)}}
    denied = {
        "list secrets": ("GET", f"/api/v1/namespaces/{ns}/secrets", None),
        "read a secret": ("GET", f"/api/v1/namespaces/{ns}/secrets/hf", None),
        "list pods": ("GET", f"/api/v1/namespaces/{ns}/pods", None),
        "list pods everywhere": ("GET", "/api/v1/pods", None),
        "patch its SFTJob": ("PATCH", f"{sft}/mine", {"spec": {"suspend": True}}),
        "patch its SFTJob's status": ("PATCH", f"{sft}/mine/status", {"status": {"phase": "X"}}),
        "patch another SFTJob": ("PATCH", f"{sft}/other", {"spec": {"suspend": True}}),
        "patch another job's progress": ("PATCH", configmap_path(ns, "other-config"), progress),
        "read another job's config": ("GET", configmap_path(ns, "other-config"), None),
        "delete another job's Job": ("DELETE", f"/apis/batch/v1/namespaces/{ns}/jobs/other-a1", None),
        "delete its own Job": ("DELETE", f"/apis/batch/v1/namespaces/{ns}/jobs/mine-a1", None),
        "create a ConfigMap": ("POST", f"/api/v1/namespaces/{ns}/configmaps", {"data": {}}),
    }  # fmt: skip
    answers = {what: request(devcluster, token, *call)[0] for what, call in denied.items()}
    assert answers == dict.fromkeys(denied, 403)
    for job in ("mine", "other"):
        assert children(kube, ns, job, "Job"), f"{job}'s Job is gone"
        assert status(devcluster, ns, job).get("phase") != "X"


# -- credentials ------------------------------------------------------------------------


def _spellings(value: str) -> tuple[str, ...]:
    """The value as it could appear in a dump: plain, and base64 as a Secret's data holds it."""
    return (value, base64.b64encode(value.encode()).decode())


def test_credentials_are_never_seen_outside_their_secrets(
    devcluster: Any, operator: OperatorProcess, kube: Any, namespace: str
) -> None:
    ns = namespace
    log_start = operator.log.stat().st_size
    hub = f"hf_known{uuid.uuid4().hex}"
    tracker = f"wandbknown{uuid.uuid4().hex}"
    devcluster.kubectl("create", "secret", "generic", "hf", "-n", ns, f"--from-literal=token={hub}")
    devcluster.kubectl(
        "create", "secret", "generic", "trk", "-n", ns, f"--from-literal=key={tracker}"
    )
    push = {"max_steps": 2, "push_to_hub": True, "hub_model_id": "org/model", "report_to": "wandb"}
    from_secret = {"valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}
    wandb = {"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": {"name": "trk", "key": "key"}}}
    apply(
        devcluster,
        # The Hub token as a spec.env entry from a Secret, and as spec.hubTokenSecretRef.
        sftjob("env", ns, sftConfig=push, env=[{"name": "HF_TOKEN", **from_secret}, wandb], **CPU),
        sftjob("ref", ns, sftConfig=push, hubTokenSecretRef={"name": "hf", "key": "token"}, **CPU),
    )
    for name in ("env", "ref"):
        wait_for(f"{name} Succeeded", lambda n=name: phase_is(devcluster, ns, n, "Succeeded"))
        (pod,) = children(kube, ns, name, "Pod")
        env = {e.name: e for e in pod.spec.containers[0].env}
        ref = env["HF_TOKEN"].value_from.secret_key_ref
        assert (ref.name, ref.key, env["HF_TOKEN"].value) == ("hf", "token", None)
    # The grep can find them: the Secrets hold them.
    secrets = devcluster.kubectl("get", "secrets", "-n", ns, "-o", "json").stdout
    assert all(s in secrets for s in (*_spellings(hub)[1:], *_spellings(tracker)[1:]))

    kinds = f"{PLURAL},configmaps,events,events.events.k8s.io,jobs,pods,services,pvc"
    dumps = {
        "objects": devcluster.kubectl("get", kinds, "-n", ns, "-o", "json").stdout,
        "status": json.dumps([status(devcluster, ns, n) for n in ("env", "ref")]),
        "cluster events": devcluster.kubectl("get", "events", "-A", "-o", "json").stdout,
    }
    with operator.log.open("rb") as log:
        log.seek(log_start)
        dumps["operator log"] = log.read().decode(errors="replace")
    seen = [
        where for where, text in dumps.items() for v in (hub, tracker) if any(
            s in text for s in _spellings(v)
        )
    ]  # fmt: skip
    assert seen == []


# -- namespaces -------------------------------------------------------------------------


@pytest.fixture
def other_namespace(devcluster: Any, namespace: str) -> Iterator[str]:
    name = f"{namespace[:50]}-b"
    devcluster.kubectl("create", "namespace", name)
    devcluster.wait_for_service_account(name)
    try:
        yield name
    finally:
        devcluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def claim(name: str, mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": [mode], "resources": {"requests": {"storage": "1Gi"}}},
    }


def author(namespace: str) -> list[dict[str, Any]]:
    """A user who may only create, read and delete SFTJobs in `namespace`."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "author"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "sftjob-author"},
            "rules": [
                {
                    "apiGroups": ["sftjob.dev"],
                    "resources": [PLURAL],
                    "verbs": ["create", "get", "list", "watch", "delete"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "sftjob-author"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "sftjob-author"},
            "subjects": [{"kind": "ServiceAccount", "name": "author", "namespace": namespace}],
        },
    ]  # fmt: skip


def snapshot(devcluster: Any, namespace: str) -> dict[str, str]:
    """kind/name -> resourceVersion of everything the operator could touch in `namespace`."""
    kinds = "configmaps,secrets,persistentvolumeclaims,jobs,pods,services,serviceaccounts,roles,rolebindings"
    out = devcluster.kubectl("get", kinds, "-n", namespace, "-o", "json").stdout
    return {
        f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"]
        for i in json.loads(out)["items"]
    }  # fmt: skip


def test_an_author_in_one_namespace_cannot_reach_another(
    devcluster: Any,
    operator: OperatorProcess,
    kube: Any,
    namespace: str,
    other_namespace: str,
    tmp_path: Path,
) -> None:
    a, b = namespace, other_namespace
    devcluster.kubectl("apply", "-n", a, "-f", "-", input=yaml.safe_dump_all(author(a)))
    # In B: a shared claim, a Secret and a ConfigMap under the names the job will use.
    b_config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "iso-config", "labels": {LABEL_JOB_NAME: "iso"}},
        "data": {"trl.yaml": "namespace b's"},
    }
    devcluster.kubectl(
        "apply", "-n", b, "-f", "-",
        input=yaml.safe_dump_all([claim("ckpt", "ReadWriteMany"), b_config]),
    )  # fmt: skip
    devcluster.kubectl("create", "secret", "generic", "hf", "-n", b, "--from-literal=token=b")
    # In A, the claim of the same name allows one node only.
    devcluster.kubectl(
        "apply", "-n", a, "-f", "-", input=json.dumps(claim("ckpt", "ReadWriteOnce"))
    )
    before = snapshot(devcluster, b)

    config = devcluster.service_account_kubeconfig("author", a, tmp_path / "author.kubeconfig")

    def as_author(*argv: str, body: Any = None) -> Any:
        return devcluster.kubectl(
            f"--kubeconfig={config}", *argv, check=False,
            input=None if body is None else yaml.safe_dump_all(body),
        )  # fmt: skip

    wait_for(
        "the author's RoleBinding to take effect",
        lambda: as_author("auth", "can-i", "create", PLURAL, "-n", a).stdout.strip() == "yes",
    )
    for verb, resource in [("create", PLURAL), ("get", "secrets"), ("get", "configmaps")]:
        assert as_author("auth", "can-i", verb, resource, "-n", b).stdout.strip() == "no"
    refused = as_author("apply", "-n", b, "-f", "-", body=[sftjob("there", b, **CPU)])
    assert refused.returncode != 0 and "forbidden" in refused.stderr, refused.stderr
    # A namespace written into a reference is no field of the SFTJob.
    sneaky = sftjob("sneaky", a, hubTokenSecretRef={"name": "hf", "namespace": b}, **CPU)
    refused = as_author("apply", "-n", a, "-f", "-", body=[sneaky])
    assert refused.returncode != 0 and 'unknown field "spec.hubTokenSecretRef.namespace"' in (
        refused.stderr
    ), refused.stderr

    cross_ref = {"name": "hf", "key": "token", "namespace": b}  # valueFrom keeps unknown fields
    own_ref = {"name": "hf", "key": "token"}
    jobs = [
        sftjob("shared", a, nodes=2, storage={"claimName": "ckpt"}, **CPU),
        sftjob(
            "iso", a, hubTokenSecretRef={"name": "hf", "key": "token"},
            env=[{"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": own_ref}}],
            annotations=LONG, **CPU,
        ),
        sftjob(
            "cross", a, env=[{"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": cross_ref}}],
            annotations=LONG, **CPU,
        ),
    ]  # fmt: skip
    created = as_author("apply", "-n", a, "-f", "-", body=jobs)
    assert created.returncode == 0, created.stderr

    # A namespace written into a secretKeyRef: the Job is refused (strict field validation),
    # not created with the field dropped, and nothing is created for it.
    refused_job = wait_for_create_failed(devcluster, a, "cross")
    assert (
        'unknown field "spec.env[0].valueFrom.secretKeyRef.namespace"' in (refused_job["message"])
    ), refused_job["message"]
    assert not children(kube, a, "cross", "Job")

    # The claim resolves in A: A's ReadWriteOnce claim refuses two nodes (B's would not).
    refusal = wait_for("shared refused", lambda: phase_is(devcluster, a, "shared", "Failed"))
    assert condition(refusal, "CheckpointStorage")["reason"] == "ClaimNotShared"
    assert "allows ReadWriteOnce" in refusal["message"]
    # Secrets and config maps resolve in A: the pods name no other namespace.
    (job,) = wait_for("iso's Job", lambda: children(kube, a, "iso", "Job"))
    pod_spec = kube.sanitize_for_serialization(job.spec.template.spec)
    refs = [e["valueFrom"]["secretKeyRef"] for e in pod_spec["containers"][0]["env"] if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]]  # fmt: skip
    assert refs and all(set(r) <= {"name", "key", "optional"} for r in refs), refs
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "iso-config"
    (own,) = children(kube, a, "iso", "ConfigMap")
    assert "trl.yaml" in own.data and own.data["trl.yaml"] != "namespace b's"
    wait_for("iso Running", lambda: phase_is(devcluster, a, "iso", "Running"))

    # Nothing in B was created or changed, and no event there is about anything new.
    assert snapshot(devcluster, b) == before
    about = {
        f"{e['involvedObject']['kind']}/{e['involvedObject']['name']}"
        for e in events(devcluster, b)
    }
    assert about <= set(before), about - set(before)
