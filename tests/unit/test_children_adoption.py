"""Which existing object of a child's name the operator takes as its own (children.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.children import BEING_REPLACED, adoption_problem

UID = "uid-now"


def obj(owner_uid: str | None = None, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "SFTJob", "name": "j", "uid": owner_uid}]
    if deleting:
        meta["deletionTimestamp"] = "2026-11-30T10:00:00Z"
    return {"metadata": meta}


@pytest.mark.parametrize("kind", ["ConfigMap", "Service", "PersistentVolumeClaim", "Job"])
def test_its_own_child_is_taken(kind: str) -> None:
    assert adoption_problem(kind, obj(UID), UID) is None


@pytest.mark.parametrize(
    ("kind", "existing", "reason", "words"),
    [
        # `kubectl delete` then `apply` of the same name: the old children still exist.
        ("ConfigMap", obj("uid-before", deleting=True), BEING_REPLACED, "is being deleted"),
        ("PersistentVolumeClaim", obj("uid-before"), BEING_REPLACED, "earlier SFTJob"),
        ("Job", obj("uid-before"), BEING_REPLACED, "earlier SFTJob of this name"),
        ("ConfigMap", None, BEING_REPLACED, "was just deleted"),
        # Somebody else's object of that name.
        ("Service", obj(), "AlreadyExists", "not owned by this SFTJob; delete it or rename"),
        ("Job", obj(), "AlreadyExists", "is not owned by this SFTJob"),
    ],
)
def test_another_owners_object_is_refused_with_what_to_do(
    kind: str, existing: dict[str, Any] | None, reason: str, words: str
) -> None:
    problem = adoption_problem(kind, existing, UID)
    assert problem is not None and problem[0] == reason and words in problem[1]


def test_a_retained_claim_is_used() -> None:
    """spec.storage.retain leaves the claim without an owner, for the job to resume from."""
    assert adoption_problem("PersistentVolumeClaim", obj(), UID) is None
