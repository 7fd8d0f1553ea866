"""Labels, owner references and object metadata shared by every child."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sftjob_operator.api.identity import (
    API_VERSION,
    KIND,
    LABEL_ATTEMPT,
    LABEL_COMPONENT,
    LABEL_JOB_NAME,
)

KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# Kueue's WorkloadPriorityClass of a Job's Workload.
KUEUE_PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
# The SFTJob labels its Job carries for Kueue.
KUEUE_LABELS = (KUEUE_QUEUE_LABEL, KUEUE_PRIORITY_LABEL)
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "sftjob-operator"
# The pod condition Kubernetes sets on a pod disrupted from outside (a preemption, an
# eviction, a lost node): the Job's pod failure policy fails the attempt on it, and the
# operator does not count such a restart against spec.backoffLimit (decide/restart.py).
DISRUPTION_TARGET = "DisruptionTarget"


@dataclass(frozen=True)
class Owner:
    """The identity of the SFTJob that owns the children."""

    name: str
    namespace: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Owner:
        meta = body.get("metadata") or {}
        return cls(
            name=meta["name"],
            namespace=meta["namespace"],
            uid=meta["uid"],
            labels=dict(meta.get("labels") or {}),
        )

    @property
    def queue_name(self) -> str | None:
        return self.labels.get(KUEUE_QUEUE_LABEL)

    @property
    def kueue_labels(self) -> dict[str, str]:
        """The SFTJob's Kueue labels (queue, WorkloadPriorityClass), for its Job."""
        return {k: self.labels[k] for k in KUEUE_LABELS if k in self.labels}


def owner_reference(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def labels(owner: Owner, component: str, attempt: int | None = None) -> dict[str, str]:
    out = {
        LABEL_JOB_NAME: owner.name,
        LABEL_COMPONENT: component,
        MANAGED_BY_LABEL: MANAGER,
    }
    if attempt is not None:
        out[LABEL_ATTEMPT] = str(attempt)
    return out


def object_meta(
    owner: Owner,
    name: str,
    component: str,
    attempt: int | None = None,
    *,
    owned: bool = True,
    extra_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": {**(extra_labels or {}), **labels(owner, component, attempt)},
    }
    if owned:
        meta["ownerReferences"] = [owner_reference(owner)]
    return meta
