"""The shared trainer identity: made once per namespace, again after it expires or fails."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import yaml
from sftjob_operator import k8s
from sftjob_operator.preflight import REQUIRED_POLICIES, missing_policy_message
from sftjob_operator.trainer_identity import TrainerIdentities


class RecordingApi:
    """Records creates; the real API is exercised by the integration tests."""

    def __init__(self) -> None:
        self.created: list[tuple[str, str]] = []

    async def create(self, manifest: dict[str, Any]) -> bool:
        await asyncio.sleep(0)  # let concurrent callers interleave
        self.created.append((manifest["metadata"]["namespace"], manifest["kind"]))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_concurrent_jobs_of_a_namespace_make_its_identity_once() -> None:
    api, clock = RecordingApi(), Clock()
    ids = TrainerIdentities(cast(k8s.Api, api), recheck_seconds=300, clock=clock)

    async def burst() -> None:
        await asyncio.gather(*(ids.ensure(ns) for ns in ["a"] * 50 + ["b"] * 50))

    asyncio.run(burst())
    assert sorted(api.created) == sorted(
        (ns, kind) for ns in "ab" for kind in ("ServiceAccount", "Role", "RoleBinding")
    )
    # The RoleBinding comes after its Role.
    kinds_a = [kind for ns, kind in api.created if ns == "a"]
    assert kinds_a.index("Role") < kinds_a.index("RoleBinding")


def test_the_identity_is_made_again_after_the_recheck_interval_or_a_failure() -> None:
    api, clock = RecordingApi(), Clock()
    ids = TrainerIdentities(cast(k8s.Api, api), recheck_seconds=300, clock=clock)
    asyncio.run(ids.ensure("a"))
    clock.now = 299
    asyncio.run(ids.ensure("a"))
    assert len(api.created) == 3
    clock.now = 301
    asyncio.run(ids.ensure("a"))
    assert len(api.created) == 6
    ids.forget("a")
    asyncio.run(ids.ensure("a"))
    assert len(api.created) == 9


def test_the_missing_policy_message_says_what_to_apply() -> None:
    trainer, spec_rules = REQUIRED_POLICIES
    assert missing_policy_message(trainer, []) is None
    message = missing_policy_message(trainer, ["ValidatingAdmissionPolicyBinding"])
    assert message is not None
    assert "ValidatingAdmissionPolicyBinding 'sftjob-trainer-progress' not found" in message
    assert "kubectl apply --server-side -f crds/trainer-policy.yaml" in message
    message = missing_policy_message(spec_rules, ["ValidatingAdmissionPolicy"])
    assert message is not None
    assert "ValidatingAdmissionPolicy 'sftjob-spec-rules' not found" in message
    assert "kubectl apply --server-side -f crds/spec-policy.yaml" in message


def test_each_required_policy_is_a_generated_file() -> None:
    root = Path(__file__).resolve().parents[2]
    for required in REQUIRED_POLICIES:
        docs = list(yaml.safe_load_all((root / required.file).read_text()))
        assert docs == required.manifests
