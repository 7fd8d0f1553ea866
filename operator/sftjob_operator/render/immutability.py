"""The admission policy that keeps an SFTJob's training settings as they were created.

The TRL blocks, the storage, the node and GPU counts, the launcher and the image cannot
change once the job exists: a restarted attempt resumes the last checkpoint, and it must
resume it under the settings that wrote it. suspend, resources, env, podTemplate and the
other scheduling fields stay mutable (Kueue and schedulers change them).

A ValidatingAdmissionPolicy on updates of `sftjobs`, not CRD transition rules: the
apiserver evaluates every rule of a CRD on every status write too, and comparing the TRL
blocks there made each status write (phase changes, live progress) cost about 2.5x a
rule-free one for a typical spec (bench/crd_write_cost.py). The policy does not match the
`sftjobs/status` subresource, so status writes never pay for it; spec updates do, once.
"""

from __future__ import annotations

from typing import Any

from sftjob_operator.api.identity import GROUP, PLURAL
from sftjob_operator.render.meta import MANAGED_BY_LABEL, MANAGER

POLICY_NAME = "sftjob-immutable-training"

IMMUTABLE_BLOCKS = ("scriptArgs", "datasetMixture", "modelConfig", "sftConfig", "storage")
IMMUTABLE_SCALARS = ("nodes", "gpusPerNode", "distributed", "image")
IMMUTABLE_FIELDS = IMMUTABLE_BLOCKS + IMMUTABLE_SCALARS
HINT = (
    "training settings cannot change after the SFTJob is created; create a new SFTJob "
    "instead (suspend, resources, env and podTemplate stay mutable)"
)


def unchanged(name: str) -> str:
    """CEL: spec.<name> is absent in both versions, or present in both and equal."""
    new, old = f"object.spec.{name}", f"oldObject.spec.{name}"
    return f"has({new}) == has({old}) && (!has({new}) || {new} == {old})"


def validations() -> list[dict[str, Any]]:
    return [
        {
            "expression": unchanged(name),
            "message": f"spec.{name} is immutable: {HINT}",
            "reason": "Invalid",
        }
        for name in IMMUTABLE_FIELDS
    ]


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "labels": {MANAGED_BY_LABEL: MANAGER}}


def immutability_policy() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": _meta(POLICY_NAME),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": ["*"],
                        "operations": ["UPDATE"],
                        # The main resource only: status writes are not spec changes.
                        "resources": [PLURAL],
                    }
                ]
            },
            "validations": validations(),
        },
    }


def immutability_policy_binding() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": _meta(POLICY_NAME),
        "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"]},
    }


def manifests() -> list[dict[str, Any]]:
    return [immutability_policy(), immutability_policy_binding()]
