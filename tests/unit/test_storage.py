"""Checkpoint storage check: shared claims for multi-node jobs, emptyDir warned about."""

from __future__ import annotations

from typing import Any

import pytest
from sftjob_operator.api.spec import read_spec
from sftjob_operator.decide.storage import claim_found, storage_check


def claim(*modes: str, bound: tuple[str, ...] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"spec": {"accessModes": list(modes)}}
    if bound is not None:
        out["status"] = {"accessModes": list(bound)}
    return out


@pytest.mark.parametrize(
    ("spec", "pvc", "ok", "refuse", "reason"),
    [
        ({"nodes": 2, "storage": {"claimName": "c"}}, claim("ReadWriteMany"), True, False, "Claim"),
        ({"nodes": 2, "storage": {"claimName": "c"}}, claim("ReadWriteOnce"), False, True, "ClaimNotShared"),
        ({"nodes": 2, "storage": {"claimName": "c"}}, claim("ReadWriteMany", bound=("ReadWriteOnce",)), False, True, "ClaimNotShared"),
        ({"nodes": 2, "storage": {"claimName": "c"}}, claim(), False, True, "ClaimNotShared"),
        # Not readable (no permission): the pods will say what is wrong.
        ({"nodes": 2, "storage": {"claimName": "c"}}, None, True, False, "Claim"),
        ({"nodes": 1, "storage": {"claimName": "c"}}, claim("ReadWriteOnce"), True, False, "Claim"),
        ({"nodes": 2, "storage": {"size": "1Gi"}}, None, True, False, "Claim"),
        ({"nodes": 2}, None, False, False, "EmptyDir"),
        ({}, None, False, False, "EmptyDir"),
    ],
)  # fmt: skip
def test_storage_check(
    spec: dict[str, Any], pvc: dict[str, Any] | None, ok: bool, refuse: bool, reason: str
) -> None:
    check = storage_check(read_spec(spec), pvc)
    assert (check.ok, check.refuse, check.reason) == (ok, refuse, reason)


def test_refusal_names_the_field_and_what_to_write() -> None:
    check = storage_check(
        read_spec({"nodes": 3, "storage": {"claimName": "mine"}}), claim("ReadWriteOnce")
    )
    assert check.message.startswith("spec.storage.claimName: claim mine allows ReadWriteOnce")
    assert "ReadWriteMany" in check.message and "storage.size" in check.message


@pytest.mark.parametrize(("nodes", "several"), [(1, False), (2, True)])
def test_a_claim_that_does_not_exist_is_said_and_waited_for(nodes: int, several: bool) -> None:
    """One node: its pod waits for the claim. Several: no child is created until the claim
    exists, so that a ReadWriteOnce one is refused before pods wait on it."""
    spec = read_spec({"nodes": nodes, "storage": {"claimName": "mine"}})
    check = storage_check(spec, None, claim_missing=True)
    assert (check.ok, check.refuse, check.wait, check.reason) == (
        False,
        False,
        several,
        "ClaimNotFound",
    )
    assert check.message.startswith(
        "spec.storage.claimName: there is no PersistentVolumeClaim mine in this namespace"
    )
    assert ("ReadWriteMany" in check.message) is several
    assert ("the pods wait for it" in check.message) is not several
    assert "storage.size" in check.message


def test_emptydir_warns_that_restarts_start_over() -> None:
    assert "step 0" in storage_check(read_spec({"nodes": 2}), None).message


@pytest.mark.parametrize(
    ("storage", "warned"),
    [({"size": "1Gi"}, True), ({"size": "1Gi", "retain": True}, False)],
)
def test_a_ttl_that_would_delete_the_trained_model_is_said(
    storage: dict[str, Any], warned: bool
) -> None:
    spec = read_spec({"storage": storage, "ttlSecondsAfterFinished": 3600})
    message = storage_check(spec, None).message
    assert ("deletes the SFTJob and this claim with it" in message) is warned
    assert "deletes" not in storage_check(read_spec({"storage": storage}), None).message


def missing_claim_condition(reason: str = "ClaimNotFound") -> list[dict[str, Any]]:
    return [{"type": "CheckpointStorage", "status": "False", "reason": reason, "message": "x"}]


@pytest.mark.parametrize(
    ("conditions", "phase", "claim_name", "found"),
    [
        (missing_claim_condition(), "Running", "mine", True),
        (missing_claim_condition(), "Succeeded", "mine", True),  # it ran between two looks
        (missing_claim_condition(), "Pending", "mine", False),
        (missing_claim_condition(), "Failed", "mine", False),
        (missing_claim_condition("EmptyDir"), "Running", "mine", False),
        (missing_claim_condition(), "Running", None, False),
        ([], "Running", "mine", False),
    ],
)
def test_a_missing_claim_is_found_once_pods_run_on_it(
    conditions: list[dict[str, Any]], phase: str, claim_name: str | None, found: bool
) -> None:
    updates = claim_found(conditions, phase, claim_name)
    assert bool(updates) is found
    if found:
        (update,) = updates
        assert (update.type, update.ok, update.reason) == ("CheckpointStorage", True, "Claim")
        assert update.message == "checkpoints are kept on claim mine"
