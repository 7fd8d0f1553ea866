"""`sftjob delete NAME [--keep-storage]`: delete an SFTJob; its children go with it
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


def without_owner(claim: Any, uid: str) -> list[dict[str, Any]]:
    """The claim's owner references without the SFTJob's."""
    refs = claim.metadata.owner_references or []
    return [
        {"apiVersion": r.api_version, "kind": r.kind, "name": r.name, "uid": r.uid}
        for r in refs
        if r.uid != uid
    ]


def keep_claim(kube: k8s.Kube, job: Mapping[str, Any]) -> str:
    meta = job["metadata"]
    name, ns = operator_api.pvc_name(meta["name"]), meta["namespace"]
    with k8s.user_errors(f"keep persistentvolumeclaim {name}"):
        claim = kube.core.read_namespaced_persistent_volume_claim(name, ns)
        refs = without_owner(claim, meta["uid"])
        kube.core.patch_namespaced_persistent_volume_claim(
            name, ns, {"metadata": {"ownerReferences": refs or None}}
        )
    return f"persistentvolumeclaim/{name} kept"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("--keep-storage", is_flag=True, help="Keep the claim with the checkpoints.")
@k8s.cluster_options
def delete(name: str, keep_storage: bool, **target: Any) -> None:
    """Delete an SFTJob and what the operator created for it."""
    kube = k8s.connect(target["kubeconfig"], target["context"], target["namespace"])
    job = k8s.get_job(kube, name)
    ns = job["metadata"]["namespace"]
    if keep_storage:
        note = storage_note(job)
        click.echo(note or keep_claim(kube, job), err=True)
    with k8s.user_errors(f"delete sftjob {name} in namespace {ns}"):
        kube.custom.delete_namespaced_custom_object(
            **operator_api.resource(), namespace=ns, name=name, propagation_policy="Background"
        )
    click.echo(f'sftjob.{operator_api.GROUP} "{name}" deleted')
