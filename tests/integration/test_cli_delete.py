"""`sftjob delete --keep-storage` on the devcluster's apiserver, with its garbage collector:
the claim loses the SFTJob's owner reference and no other, and outlives the job."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from sftjob_cli.main import main

from tests.operator_fixtures import get_sft, sftjob, wait_for

pytestmark = pytest.mark.integration


def delete(devcluster: Any, namespace: str, *args: str) -> Any:
    argv = ["delete", *args, "-n", namespace, "--kubeconfig", str(devcluster.kubeconfig)]
    return CliRunner().invoke(main, argv)


def claim_owned_by(namespace: str, name: str, *owners: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": list(owners)},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def reference(obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
            "uid": meta["uid"], **extra}  # fmt: skip


def test_keep_storage_detaches_only_the_jobs_reference_from_a_claim_of_two_owners(
    devcluster: Any, crd: None, namespace: str
) -> None:
    """A strategic merge patch merges owner references by uid: the old patch left the
    SFTJob's reference on a claim with another owner, said "kept", and the collector
    deleted the claim with the job."""
    devcluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(sftjob("tiny", namespace, suspend=True, storage={"size": "1Gi"})),
    )
    job = get_sft(devcluster, namespace, "tiny")
    devcluster.kubectl("create", "configmap", "backup-policy", "-n", namespace)
    other = json.loads(
        devcluster.kubectl(
            "get", "configmap", "backup-policy", "-n", namespace, "-o", "json"
        ).stdout
    )
    owners = (reference(job, controller=True, blockOwnerDeletion=True), reference(other))
    claim = claim_owned_by(namespace, "tiny-output", *owners)
    devcluster.kubectl("apply", "-f", "-", input=json.dumps(claim))

    result = delete(devcluster, namespace, "tiny", "--keep-storage")
    assert result.exit_code == 0, result.output
    assert "persistentvolumeclaim/tiny-output kept" in result.output
    wait_for("the SFTJob to be gone", lambda: get_sft(devcluster, namespace, "tiny") is None)
    kept = json.loads(
        devcluster.kubectl("get", "pvc", "tiny-output", "-n", namespace, "-o", "json").stdout
    )
    assert [r["uid"] for r in kept["metadata"]["ownerReferences"]] == [other["metadata"]["uid"]]


@pytest.mark.parametrize("name", ["", "."])
def test_a_name_that_would_address_every_job_is_a_usage_error(
    devcluster: Any, crd: None, namespace: str, name: str
) -> None:
    devcluster.kubectl(
        "apply", "-f", "-", input=json.dumps(sftjob("stays", namespace, suspend=True))
    )
    result = delete(devcluster, namespace, name)
    assert result.exit_code == 2 and "is not an SFTJob name" in result.output, result.output
    assert get_sft(devcluster, namespace, "stays") is not None


def test_several_names_are_each_found_before_any_is_deleted(
    devcluster: Any, crd: None, namespace: str
) -> None:
    for name in ("one", "two"):
        job = sftjob(name, namespace, suspend=True)
        devcluster.kubectl("apply", "-f", "-", input=json.dumps(job))
    missing = delete(devcluster, namespace, "one", "nope", "two")
    assert missing.exit_code == 1 and 'sftjob "nope" not found' in missing.output
    assert get_sft(devcluster, namespace, "one") is not None  # nothing deleted
    result = delete(devcluster, namespace, "one", "two")
    assert result.exit_code == 0, result.output
    assert result.output.count("deleted") == 2
