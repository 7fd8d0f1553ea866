"""ValidatingAdmissionPolicy and binding manifests: the skeleton both of our policies share."""

from __future__ import annotations

from typing import Any

from sftjob_operator.render.meta import MANAGED_BY_LABEL, MANAGER

API_VERSION = "admissionregistration.k8s.io/v1"


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "labels": {MANAGED_BY_LABEL: MANAGER}}


def policy(
    name: str,
    resource_rule: dict[str, Any],
    validations: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """A policy that fails closed; `extra` adds spec fields (matchConditions, variables)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": _meta(name),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [resource_rule]},
            **extra,
            "validations": validations,
        },
    }


def binding(name: str) -> dict[str, Any]:
    """The cluster-wide binding that denies what the policy of the same name refuses."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": _meta(name),
        "spec": {"policyName": name, "validationActions": ["Deny"]},
    }
