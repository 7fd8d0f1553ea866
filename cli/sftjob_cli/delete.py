"""`sftjob delete NAME... [--keep-storage]`: delete SFTJobs; the children of each go with it
(owner references), the checkpoint claim too unless --keep-storage.

--keep-storage takes the SFTJob's owner reference off the claim the operator made
(`<job>-output`) before the delete, so garbage collection leaves it and its checkpoints;
a claim named in spec.storage.claimName, or one with storage.retain, is never deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from sftjob_cli import kube as k8s
from sftjob_cli import operator_api


def storage_note(job: Mapping[str, Any]) -> str | None:
    """Why the job's storage outlives it anyway, or None when it is the job's own claim."""
    storage = (job.get("spec") or {}).get("storage") or {}
    if storage.get("claimName"):
        return f"persistentvolumeclaim/{storage['claimName']} is not the job's own: it is kept"
    if not storage.get("size"):
        return "the job has no storage of its own (an emptyDir): nothing to keep"
    if storage.get("retain"):
        return "storage.retain is set: the claim is kept"
    return None


def without_owner(claim: Mapping[str, Any], uid: str) -> list[dict[str, Any]]:
    """The claim's owner references without the SFTJob's."""
    refs = (claim.get("metadata") or {}).get("ownerReferences") or []
    return [r for r in refs if r.get("uid") != uid]


def detach_patch(claim: Mapping[str, Any], uid: str) -> list[dict[str, Any]]:
    """A JSON patch that takes the SFTJob's owner reference off the claim, and only if the
    claim is still the one read (its resourceVersion): a strategic merge patch merges owner
    references by uid, so listing the others would leave the SFTJob's in place."""
    meta = claim.get("metadata") or {}
    refs = without_owner(claim, uid)
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}
    ]
    if refs:
        ops.append({"op": "replace", "path": "/metadata/ownerReferences", "value": refs})
    elif "ownerReferences" in meta:
        ops.append({"op": "remove", "path": "/metadata/ownerReferences"})
    return ops


# Reads and patches of the claim before giving up: the patch holds only if the claim is
# still the one read, and a claim being bound changes under it.
KEEP_TRIES = 3


def keep_claim(kube: k8s.Kube, job: Mapping[str, Any]) -> str:
    """Detach the job's own claim, so that deleting the job leaves it; checked on the
    claim the apiserver returns."""
    from kubernetes.client.exceptions import ApiException

    meta = job["metadata"]
    name, ns = operator_api.pvc_name(meta["name"]), meta["namespace"]
    with k8s.user_errors(f"keep persistentvolumeclaim {name}"):
        for tries_left in range(KEEP_TRIES - 1, -1, -1):
            try:
                claim = kube.core.read_namespaced_persistent_volume_claim(name, ns)
            except ApiException as err:
                if err.status == 404:  # a job still queued has made none
                    return f"persistentvolumeclaim/{name} does not exist: nothing to keep"
                raise
            claim = kube.api_client.sanitize_for_serialization(claim)
            try:
                patched = kube.core.patch_namespaced_persistent_volume_claim(
                    name, ns, detach_patch(claim, meta["uid"])
                )
                break
            except ApiException as err:
                if err.status not in (409, 422) or not tries_left:
                    raise  # 422: the test of the resourceVersion failed, it changed
    refs = (patched.metadata.owner_references or []) if patched.metadata else []
    if any(r.uid == meta["uid"] for r in refs):
        raise k8s.KubeError(
            f"persistentvolumeclaim/{name} is still owned by the SFTJob; the job was not deleted"
        )
    return f"persistentvolumeclaim/{name} kept"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@k8s.job_names_argument()
@click.option("--keep-storage", is_flag=True, help="Keep the claim with the checkpoints.")
@k8s.cluster_options
def delete(names: tuple[str, ...], keep_storage: bool, **target: Any) -> None:
    """Delete SFTJobs and what the operator created for them. Every NAME is found before
    any is deleted, as kubectl does."""
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    jobs = [k8s.get_job(kube, name) for name in dict.fromkeys(names)]
    for job in jobs:
        delete_one(kube, job, keep_storage)


def delete_one(kube: k8s.Kube, job: Mapping[str, Any], keep_storage: bool) -> None:
    name, ns = job["metadata"]["name"], job["metadata"]["namespace"]

    def delete_job(**dry_run: str) -> None:
        with k8s.user_errors(f"delete sftjob {name} in namespace {ns}"):
            kube.custom.delete_namespaced_custom_object(
                **operator_api.resource(), namespace=ns, name=name,
                propagation_policy="Background", **dry_run,
            )  # fmt: skip

    if keep_storage:
        delete_job(dry_run="All")  # refused (RBAC, a webhook): the claim is left as it was
        note = storage_note(job)
        click.echo(note or keep_claim(kube, job), err=True)
    delete_job()
    click.echo(f'sftjob.{operator_api.GROUP} "{name}" deleted')
