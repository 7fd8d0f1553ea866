"""Refusal policy and the conditions that creating an attempt's children sets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sftjob_operator.api.spec import read_spec
from sftjob_operator.decide import Setup
from sftjob_operator.decide.setup import (
    Rendered,
    create_failed,
    created,
    render_attempt,
    storage_refused,
)
from sftjob_operator.decide.storage import storage_check
from sftjob_operator.views import sft_view

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
SPEC: dict[str, Any] = {
    "modelConfig": {"model_name_or_path": "Qwen/Qwen2.5-0.5B"},
    "scriptArgs": {"dataset_name": "trl-lib/Capybara"},
    "gpusPerNode": 0,
}


def body(**spec: Any) -> dict[str, Any]:
    meta = {"name": "j", "namespace": "ns", "uid": "u"}
    return {"apiVersion": "sftjob.dev/v1alpha1", "kind": "SFTJob", "metadata": meta, "spec": spec}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({**SPEC, "env": [{"name": "MASTER_ADDR", "value": "x"}]}, "spec.env[0].name"),
        ({**SPEC, "nodes": 0}, "spec.nodes"),
        ({**SPEC, "sftConfig": {"no_such_field": 1}}, "spec.sftConfig.no_such_field"),
        ({**SPEC, "sftConfig": {"bf16": True, "fp16": True}}, "spec.sftConfig.fp16"),
    ],
)
def test_a_spec_that_cannot_be_rendered_is_refused_with_its_field(
    spec: dict[str, Any], field: str
) -> None:
    b = body(**spec)
    refused = render_attempt(b, sft_view(b), 1, None, NOW)
    assert isinstance(refused, Setup) and refused.refusal is not None
    assert (refused.refusal.phase, refused.refusal.reason) == ("Failed", "InvalidSpec")
    assert refused.refusal.message.startswith(field)
    (condition,) = refused.conditions
    assert (condition.type, condition.ok) == ("ConfigNormalized", False)


def test_a_later_attempt_gets_what_is_left_of_the_deadline() -> None:
    b = body(**SPEC, activeDeadlineSeconds=600)
    rendered = render_attempt(b, sft_view(b), 2, "2025-01-01T11:59:00Z", NOW)
    assert isinstance(rendered, Rendered)
    job = rendered.children[-1]
    assert (job["kind"], job["spec"]["activeDeadlineSeconds"]) == ("Job", 540)


def test_storage_the_nodes_cannot_share_is_refused() -> None:
    spec = read_spec({"nodes": 2, "storage": {"claimName": "c"}})
    shared = storage_check(spec, {"spec": {"accessModes": ["ReadWriteMany"]}})
    single = storage_check(spec, {"spec": {"accessModes": ["ReadWriteOnce"]}})
    assert storage_refused(shared) is None
    refused = storage_refused(single)
    assert refused is not None and refused.refusal is not None
    assert (refused.refusal.phase, refused.refusal.reason) == ("Failed", "ClaimNotShared")
    assert [c.type for c in refused.conditions] == ["CheckpointStorage"]


def test_a_missing_claim_of_several_nodes_holds_the_children_back() -> None:
    several = storage_refused(
        storage_check(read_spec({"nodes": 2, "storage": {"claimName": "c"}}), None, True)
    )
    assert several is not None and several.refusal is None and several.waiting is not None
    assert several.waiting.reason == "ClaimNotFound"
    assert several.waiting.message.startswith("spec.storage.claimName: there is no")
    assert [(c.type, c.ok, c.reason) for c in several.conditions] == [
        ("CheckpointStorage", False, "ClaimNotFound")
    ]
    one = storage_check(read_spec({"nodes": 1, "storage": {"claimName": "c"}}), None, True)
    assert storage_refused(one) is None  # its pod waits for the claim


def test_created_children_say_so_with_every_translation_and_the_output_dir() -> None:
    b = body(**{**SPEC, "sftConfig": {"evaluation_strategy": "no"}})
    rendered = render_attempt(b, sft_view(b), 1, None, NOW)
    assert isinstance(rendered, Rendered)
    setup = created(1, rendered.normalized, storage_check(read_spec(b["spec"]), None))
    assert [(c.type, c.ok, c.reason) for c in setup.conditions] == [
        ("ChildrenCreated", True, "Created"),
        ("ConfigNormalized", True, "Translated"),
        ("CheckpointStorage", False, "EmptyDir"),
    ]
    assert setup.refusal is None and setup.output_dir == "/workspace/output"
    assert len(setup.translations) == 1 and "evaluation_strategy" in setup.translations[0]


def test_a_failed_create_is_a_condition_not_a_refusal() -> None:
    setup = create_failed("exceeded quota")
    assert setup.refusal is None
    assert [(c.type, c.ok, c.reason) for c in setup.conditions] == [
        ("ChildrenCreated", False, "CreateFailed")
    ]
