"""The parts of `sftjob validate` that stand in for the apiserver, one table each: the
messages are the apiserver's (the formats of k8s.io/apimachinery field errors and of
kube-openapi, as kube-apiserver v1.36 prints them), defaults are applied as the
structural schema says, YAML is read as kubectl sends it, and the admission policy is
the operator's own, evaluated by a CEL library from its text."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_cli.apiserver import DECODE, POLICY, SCHEMA, admit
from sftjob_cli.celeval import compile_error
from sftjob_cli.checks import check, default_policy
from sftjob_cli.crd import crd_text, load_crd
from sftjob_cli.errors import ManifestError
from sftjob_cli.kubeyaml import parse_documents
from sftjob_cli.policycheck import denials
from sftjob_cli.structural import go_float
from sftjob_operator.admission.spec_policy import spec_policy

ROOT = Path(__file__).resolve().parents[2]
NIL = "<nil>: Invalid value: null: some validation rules were not checked"


def job(**spec: Any) -> dict[str, Any]:
    base = {
        "scriptArgs": {"dataset_name": "trl-lib/Capybara"},
        "modelConfig": {"model_name_or_path": "Qwen/Qwen2.5-0.5B"},
        "sftConfig": {"learning_rate": 2e-5},
    }
    return {
        "apiVersion": "sftjob.dev/v1alpha1",
        "kind": "SFTJob",
        "metadata": {"name": "j"},
        "spec": {**base, **spec},
    }


@pytest.mark.parametrize(
    ("spec", "stage", "message"),
    [
        (
            {"nodes": 0},
            SCHEMA,
            "spec.nodes: Invalid value: 0: spec.nodes in body should be greater than or equal to 1",
        ),
        (
            {"nodes": "two"},
            SCHEMA,
            'spec.nodes: Invalid value: "string": spec.nodes in body '
            'must be of type integer: "string"',
        ),
        (
            {"distributed": "mpi"},
            SCHEMA,
            'spec.distributed: Unsupported value: "mpi": supported '
            'values: "auto", "ddp", "deepspeed-zero1", "deepspeed-zero2", "deepspeed-zero3", "fsdp"',
        ),
        ({"modelConfig": None}, SCHEMA, "spec.modelConfig: Required value"),
        (
            {"image": ""},
            SCHEMA,
            'spec.image: Invalid value: "": spec.image in body should be at least 1 chars long',
        ),
        (
            {"env": [{"name": f"E{i}"} for i in range(129)]},
            SCHEMA,
            "spec.env: Too many: 129: must have at most 128 items",
        ),
        (
            {"sftConfig": {"chat_template": "x" * 65537}},
            SCHEMA,
            "spec.sftConfig.chat_template: Too long: may not be more than 65536 bytes",
        ),
        (
            {"sftConfig": {"warmup_ratio": 1.5}},
            SCHEMA,
            "spec.sftConfig.warmup_ratio: Invalid "
            "value: 1.5: spec.sftConfig.warmup_ratio in body should be less than 1",
        ),
        (
            {"resources": {"cpu": True}},
            SCHEMA,
            'spec.resources.cpu: Invalid value: "boolean": '
            'spec.resources.cpu in body must be of type integer,string: "boolean"',
        ),
        ({"gpus": 8}, DECODE, 'strict decoding error: unknown field "spec.gpus"'),
        (
            {"env": [{"name": "A", "valu": "1"}]},
            DECODE,
            'strict decoding error: unknown field "spec.env[0].valu"',
        ),
        (
            {"storage": {"size": "1Gi", "claimName": "c"}},
            SCHEMA,
            "spec.storage: Invalid value: spec.storage: set either claimName",
        ),
        (
            {"sftConfig": {"local_rank": 0}},
            SCHEMA,
            "spec.sftConfig.local_rank: Invalid value: 0: "
            "spec.sftConfig.local_rank is not supported",
        ),
        (
            {"gpusPerNode": 0, "distributed": "fsdp"},
            POLICY,
            "ValidatingAdmissionPolicy "
            "'sftjob-spec-rules' with binding 'sftjob-spec-rules' denied request: "
            "spec.distributed: DeepSpeed and FSDP need GPUs",
        ),
        (
            {"env": [{"name": "HF_TOKEN", "value": "t"}]},
            POLICY,
            "ValidatingAdmissionPolicy 'sftjob-spec-rules' with binding 'sftjob-spec-rules' denied "
            "request: spec.env: HF_TOKEN must not be written as an inline value",
        ),
    ],
)
def test_messages_are_the_apiservers(spec: dict[str, Any], stage: str, message: str) -> None:
    doc = job(**spec)
    doc["spec"] = {k: v for k, v in doc["spec"].items() if v is not None}
    outcome = admit(doc, load_crd(), default_policy())
    assert outcome.stage == stage
    assert any(e.startswith(message) for e in outcome.errors), outcome.errors


def test_type_errors_stop_the_crd_rules_as_the_apiserver_does() -> None:
    doc = job(nodes="two", storage={"size": "1Gi", "claimName": "c"})
    errors = admit(doc, load_crd(), default_policy()).errors
    assert errors[-1].startswith(NIL)
    assert not any(e.startswith("spec.storage") for e in errors)
    assert admit(job(nodes=0), load_crd(), default_policy()).errors[-1] != NIL  # no type error


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (None, "metadata.name: Required value: name or generateName is required"),
        ("My_Job", 'metadata.name: Invalid value: "My_Job": a lowercase RFC 1123 subdomain'),
    ],
)
def test_metadata_name(name: str | None, message: str) -> None:
    doc = job()
    doc["metadata"] = {"name": name} if name else {}
    assert admit(doc, load_crd(), default_policy()).errors[0].startswith(message)


def test_unknown_metadata_fields_are_strict_errors() -> None:
    doc = job()
    doc["metadata"]["lables"] = {"a": "b"}
    errors = admit(doc, load_crd(), default_policy()).errors
    assert errors == ('strict decoding error: unknown field "metadata.lables"',)


def test_defaults_are_applied_and_nulls_dropped() -> None:
    doc = job(storage={"size": "1Gi"}, hubTokenSecretRef={"name": "hf"}, backoffLimit=None)
    stored = admit(doc, load_crd(), default_policy()).stored["spec"]
    assert (stored["nodes"], stored["gpusPerNode"], stored["distributed"]) == (1, 1, "auto")
    assert (stored["suspend"], stored["backoffLimit"], stored["image"]) != (None, None, None)
    assert stored["backoffLimit"] == 3
    assert stored["storage"] == {"size": "1Gi", "retain": False}
    assert stored["hubTokenSecretRef"] == {"name": "hf", "key": "token"}


def test_status_is_not_written_on_create() -> None:
    doc = {**job(), "status": {"phase": "Bogus"}}
    outcome = admit(doc, load_crd(), default_policy())
    assert outcome.stage is None and "status" not in outcome.stored


def test_yaml_is_read_as_kubectl_sends_it() -> None:
    text = "a: 2e-5\nb: 2.0\nc: y\nd: 2024-01-01\ne: 1:30\nf: 017\ng: 0x1F\nh: yes please\n"
    (doc,) = parse_documents(text)
    assert doc == {
        "a": 2e-5,
        "b": 2,
        "c": True,
        "d": "2024-01-01",
        "e": "1:30",
        "f": 15,
        "g": 31,
        "h": "yes please",
    }
    assert isinstance(doc["b"], int)


def test_merge_keys_may_override_what_they_merge_at_any_depth() -> None:
    """A merge rewrites the merged mapping in place; the duplicate check sees each mapping
    as written, so an override after `<<:` is not a key written twice."""
    text = "outer:\n  inner: &b\n    <<: &a {x: 1}\n    x: 2\nc:\n  <<: *b\n  z: 3\n"
    (doc,) = parse_documents(text)
    assert doc == yaml.safe_load(text)  # merged as the YAML library merges
    with pytest.raises(ManifestError, match="the key 'x' is written twice"):
        parse_documents("a:\n  <<: {x: 1}\n  x: 2\n  x: 3\n")


def test_a_whole_float_is_an_integer_for_the_apiserver() -> None:
    text = (ROOT / "examples" / "tiny-cpu.yaml").read_text().replace("nodes: 1", "nodes: 1.0")
    assert "nodes: 1.0" in text
    (doc,) = parse_documents(text)
    assert check(doc).accepted


def test_the_packaged_crd_is_the_generated_one() -> None:
    assert crd_text() == (ROOT / "crds" / "sftjob.yaml").read_text()
    assert load_crd().api_version == "sftjob.dev/v1alpha1"


def test_the_policy_is_the_operators_and_every_rule_compiles() -> None:
    policy = default_policy()
    assert policy == spec_policy()
    expressions = [
        text
        for v in policy["spec"]["validations"]
        for text in (v["expression"], v.get("messageExpression"))
        if text
    ]
    assert len(expressions) >= 30
    assert [e for e in expressions if compile_error(e, ["object", "oldObject", "request"])] == []


def test_rules_are_evaluated_from_the_policys_text() -> None:
    """A changed rule changes the verdict: nothing is hard-coded."""
    policy = copy.deepcopy(default_policy())
    policy["spec"]["validations"] = [
        {"expression": "object.spec.nodes < 2", "message": "at most one node here"},
        {"expression": "object.spec.nope == 1", "message": "unused"},
        {"expression": "false", "messageExpression": "'nodes: ' + string(object.spec.nodes)"},
    ]
    data = {"object": {"spec": {"nodes": 2}}, "oldObject": None, "request": {}}
    found = denials(policy, data)
    assert [f.split("denied request: ")[1] for f in found] == [
        "at most one node here",
        "expression 'object.spec.nope == 1' resulted in error: no such key: nope",
        "nodes: 2",
    ]
    data["object"]["spec"]["nodes"] = 1
    assert len(denials(policy, data)) == 2


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.5, "0.5"), (1e-05, "1e-05"), (0.0001, "0.0001"), (1234567.0, "1.234567e+06")],
)
def test_floats_print_as_go_prints_them(value: float, text: str) -> None:
    assert go_float(value) == text


def test_keys_written_differently_that_read_as_one_are_named_both() -> None:
    """Python reads `1` and `true` (or `1.0`) as one key, kubectl as two: quoting keeps both."""
    with pytest.raises(
        ManifestError, match=r'the keys 1 and true are one key once read .*"1", "true"'
    ):
        parse_documents("a:\n  1: x\n  true: y\n")
    assert parse_documents('a:\n  "1": x\n  "true": z\n') == [{"a": {"1": "x", "true": "z"}}]
