"""Storage policy: can every node of the job write and read the same checkpoints? Pure.

- storage.size: the operator creates the claim, ReadWriteMany when nodes > 1 (render/pvc.py).
- storage.claimName with nodes > 1: the claim must allow ReadWriteMany; otherwise the
  SFTJob is refused (no Job is created), since ranks on other nodes could not mount it or
  would each write their own checkpoints and a restart could not resume.
- storage.size with ttlSecondsAfterFinished and no retain: the TTL deletes the claim with
  the SFTJob, the trained model included; the condition says so.
- no storage: an emptyDir per pod. It disappears with the pod, so training works but a
  restart starts again from step 0; the condition says so (a warning, not a refusal:
  short or throw-away jobs need no storage).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.api.spec import JobSpec

RWX = "ReadWriteMany"


@dataclass(frozen=True)
class StorageCheck:
    ok: bool
    reason: str
    message: str
    refuse: bool = False


def needs_claim(spec: JobSpec) -> bool:
    """Whether the check needs the claim the user brings: only several nodes share one."""
    return spec.claim_name is not None and spec.nodes > 1


def storage_check(spec: JobSpec, claim: Mapping[str, Any] | None) -> StorageCheck:
    """`claim` is the PersistentVolumeClaim named by storage.claimName, when it was looked up."""
    storage = spec.storage
    nodes = spec.nodes
    if name := spec.claim_name:
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
        return StorageCheck(True, "Claim", f"checkpoints are kept on claim {name}")
    if storage.get("size"):
        message = "checkpoints are kept on the claim the operator made"
        if spec.ttl_seconds_after_finished is not None and not storage.get("retain"):
            message += (
                "; ttlSecondsAfterFinished deletes the SFTJob and this claim with it, the "
                "trained model included: set storage.retain: true (or push_to_hub) to keep it"
            )
        return StorageCheck(True, "Claim", message)
    return StorageCheck(
        False,
        "EmptyDir",
        "no spec.storage: checkpoints live in each pod's emptyDir and are lost with the pod, "
        "so a restart starts again from step 0; set spec.storage.size (or a "
        f"{RWX} storage.claimName) to resume after a failure",
    )


def _access_modes(claim: Mapping[str, Any]) -> list[str]:
    # status.accessModes is what the bound volume offers; spec is what was asked for.
    status = (claim.get("status") or {}).get("accessModes")
    spec = (claim.get("spec") or {}).get("accessModes")
    return [str(m) for m in (status or spec or ())]
