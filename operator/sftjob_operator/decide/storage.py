"""Storage policy: can every node of the job write and read the same checkpoints? Pure.

- storage.size: the operator creates the claim, ReadWriteMany when nodes > 1 (render/pvc.py).
- storage.claimName with nodes > 1: the claim must allow ReadWriteMany; otherwise the
  SFTJob is refused (no Job is created), since ranks on other nodes could not mount it or
  would each write their own checkpoints and a restart could not resume.
- storage.size with ttlSecondsAfterFinished and no retain: the TTL deletes the claim with
  the SFTJob, the trained model included; the condition says so.
- storage.claimName that names no claim: a GitOps sync may apply the claim after the
  SFTJob, so it is waited for, and the condition says so. One node: the pods wait for it
  (Kubernetes' own behaviour). Several nodes: the children are created only once the claim
  exists, so that its access modes are checked before any pod would wait on a claim that
  only one node can mount.
- no storage: an emptyDir per pod. It disappears with the pod, so training works but a
  restart starts again from step 0; the condition says so (a warning, not a refusal:
  short or throw-away jobs need no storage).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.spec import JobSpec
from sftjob_operator.decide.model import Condition
from sftjob_operator.status import conditions as cond
from sftjob_operator.status.phase import CLAIM_NOT_FOUND, RUNNING, SUCCEEDED

RWX = "ReadWriteMany"


@dataclass(frozen=True)
class StorageCheck:
    ok: bool
    reason: str
    message: str
    refuse: bool = False
    wait: bool = False  # create no child yet: look again later


CLAIM = "Claim"


def claim_kept(name: str) -> str:
    return f"checkpoints are kept on claim {name}"


def storage_check(
    spec: JobSpec, claim: Mapping[str, Any] | None, claim_missing: bool = False
) -> StorageCheck:
    """`claim` is the PersistentVolumeClaim named by storage.claimName, when it could be
    read; `claim_missing`: the apiserver said there is none."""
    storage = spec.storage
    nodes = spec.nodes
    if name := spec.claim_name:
        if claim_missing:
            waiter = (
                f"the operator creates the {nodes} pods once it exists and allows {RWX}"
                if nodes > 1
                else "the pods wait for it"
            )
            return StorageCheck(
                False,
                CLAIM_NOT_FOUND,
                f"spec.storage.claimName: there is no PersistentVolumeClaim {name} in this "
                f"namespace; {waiter}: create it"
                + (f" ({RWX}, for {nodes} nodes)" if nodes > 1 else "")
                + ", or recreate the SFTJob with storage.size instead of claimName (storage "
                "is immutable) and the operator makes one",
                wait=nodes > 1,
            )
        modes = _access_modes(claim) if claim is not None else None
        if nodes > 1 and modes is not None and RWX not in modes:
            return StorageCheck(
                False,
                "ClaimNotShared",
                f"spec.storage.claimName: claim {name} allows {', '.join(modes) or 'no access mode'}, "
                f"but the {nodes} nodes of this job must all read and write the same "
                f"checkpoints; use a {RWX} claim, or write storage.size instead of claimName "
                f"and the operator creates a {RWX} claim",
                refuse=True,
            )
        return StorageCheck(True, CLAIM, claim_kept(name))
    if storage.get("size"):
        message = "checkpoints are kept on the claim the operator made"
        if spec.ttl_seconds_after_finished is not None and not storage.get("retain"):
            message += (
                "; ttlSecondsAfterFinished deletes the SFTJob and this claim with it, the "
                "trained model included: set storage.retain: true (or push_to_hub) to keep it"
            )
        return StorageCheck(True, CLAIM, message)
    return StorageCheck(
        False,
        "EmptyDir",
        "no spec.storage: checkpoints live in each pod's emptyDir and are lost with the pod, "
        "so a restart starts again from step 0; set spec.storage.size (or a "
        f"{RWX} storage.claimName) to resume after a failure",
    )


def claim_found(
    conditions: Sequence[Mapping[str, Any]], phase: str, claim_name: str | None
) -> tuple[Condition, ...]:
    """CheckpointStorage once a claim reported missing was mounted by the pods (a pod runs
    only with its claims bound): it exists now, and the condition says so."""
    current = cond.get(conditions, cond.CHECKPOINT_STORAGE)
    if not (claim_name and phase in (RUNNING, SUCCEEDED) and current):
        return ()
    if current.get("reason") != CLAIM_NOT_FOUND:
        return ()
    return (Condition(cond.CHECKPOINT_STORAGE, True, CLAIM, claim_kept(claim_name)),)


def _access_modes(claim: Mapping[str, Any]) -> list[str]:
    # status.accessModes is what the bound volume offers; spec is what was asked for.
    status = (claim.get("status") or {}).get("accessModes")
    spec = (claim.get("spec") or {}).get("accessModes")
    return [str(m) for m in (status or spec or ())]
