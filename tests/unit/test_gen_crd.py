"""hack/gen_crd.py against the pinned TRL/transformers: the committed files are current."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import gen_crd
import pytest
import trl_schema
import yaml
from sftjob_operator.admission import spec_policy
from sftjob_operator.api import identity
from sftjob_operator.api.legacy import LEGACY_FIELDS, VALUE_ALIASES

ROOT = Path(__file__).resolve().parents[2]
# Client-side apply stores the whole object in an annotation; annotations are limited to 256 KiB.
ANNOTATION_LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return gen_crd.outputs()


@pytest.fixture(scope="module")
def crd(generated: dict[Path, str]) -> dict[str, Any]:
    return yaml.safe_load(generated[gen_crd.CRD_PATH])


@pytest.fixture(scope="module")
def spec_props(crd: dict[str, Any]) -> dict[str, Any]:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema["properties"]["spec"]["properties"]


def test_committed_files_match_the_generator(generated: dict[Path, str]) -> None:
    for path, text in generated.items():
        assert path.exists(), f"{path} is missing: run `make crd`"
        assert path.read_text() == text, f"{path} is out of date: run `make crd`"


def test_check_mode_reports_a_stale_file(
    generated: dict[Path, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stale = tmp_path / "sftjob.yaml"
    stale.write_text(generated[gen_crd.CRD_PATH].replace("TRL", "trl", 1))
    fields = tmp_path / "trl_fields.json"
    fields.write_text(generated[gen_crd.FIELDS_PATH])
    monkeypatch.setattr(
        gen_crd, "outputs", lambda: {stale: generated[gen_crd.CRD_PATH], fields: fields.read_text()}
    )
    assert gen_crd.main(["--check"]) == 1
    assert gen_crd.main([]) == 0
    assert gen_crd.main(["--check"]) == 0


def test_identity_versions_and_names(crd: dict[str, Any]) -> None:
    assert crd["metadata"]["name"] == f"{identity.PLURAL}.{identity.GROUP}"
    ann = crd["metadata"]["annotations"]
    assert ann["sftjob.dev/trl-version"] == "1.16.0"
    assert ann["sftjob.dev/transformers-version"] == "5.24.0"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("SFTJob", "sftjobs", ["sft"])
    version = crd["spec"]["versions"][0]
    assert version["name"] == identity.VERSION
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Phase", "Progress", "Loss", "Nodes", "GPUs/Node", "Queue", "Age"]


def test_size_fits_the_last_applied_annotation(generated: dict[Path, str]) -> None:
    as_json = json.dumps(yaml.safe_load(generated[gen_crd.CRD_PATH]), separators=(",", ":"))
    assert len(as_json.encode()) < ANNOTATION_LIMIT


def test_every_trl_field_is_in_its_block(spec_props: dict[str, Any]) -> None:
    classes = gen_crd.trl_dataclasses()
    for block, cls in classes.items():
        props = spec_props[block]["properties"]
        for f in dataclasses.fields(cls):
            if f.init:
                assert f.name in props, f"{cls.__name__}.{f.name} missing from spec.{block}"


def test_descriptions_come_from_trl_help(spec_props: dict[str, Any]) -> None:
    from trl import SFTConfig

    help_by_name = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(SFTConfig)}
    sft = spec_props["sftConfig"]["properties"]
    for name in ("packing", "learning_rate", "max_length", "eval_strategy"):
        assert sft[name]["description"].startswith(trl_schema.summarize(help_by_name[name]))


def test_enums_come_from_transformers(spec_props: dict[str, Any]) -> None:
    from transformers.trainer_utils import IntervalStrategy, SaveStrategy, SchedulerType
    from transformers.training_args import OptimizerNames

    sft = spec_props["sftConfig"]["properties"]
    for name, enum_cls in (
        ("eval_strategy", IntervalStrategy),
        ("logging_strategy", IntervalStrategy),
        ("save_strategy", SaveStrategy),
        ("lr_scheduler_type", SchedulerType),
    ):
        assert sft[name]["enum"] == [m.value for m in enum_cls], name
    values = {m.value for m in OptimizerNames}
    aliases = {a.old for a in VALUE_ALIASES if a.name == "optim"}
    assert set(sft["optim"]["enum"]) == values | aliases


def test_types_of_representative_fields(spec_props: dict[str, Any]) -> None:
    sft = spec_props["sftConfig"]["properties"]
    model = spec_props["modelConfig"]["properties"]
    assert sft["learning_rate"]["type"] == "number"
    assert sft["per_device_train_batch_size"]["type"] == "integer"
    assert sft["packing"]["type"] == "boolean"
    assert sft["packing_strategy"]["enum"][:3] == ["bfd", "bfd_split", "wrapped"]
    assert model["lora_target_modules"]["type"] == "array"
    assert model["dtype"]["enum"] == ["auto", "bfloat16", "float16", "float32"]
    for name in ("model_init_kwargs", "lr_scheduler_kwargs", "deepspeed", "fsdp_config"):
        assert sft[name].get("x-kubernetes-preserve-unknown-fields") is True, name
        assert "type" not in sft[name], name
    assert sft["pad_to_multiple_of"]["x-kubernetes-int-or-string"] is True


def test_legacy_names_are_accepted_and_marked(spec_props: dict[str, Any]) -> None:
    for rec in LEGACY_FIELDS:
        schema = spec_props[rec.block]["properties"][rec.name]
        word = "Not supported" if rec.action == "rejected" and not rec.cases else "Deprecated"
        assert schema["description"].startswith(word), rec.name
    sft = spec_props["sftConfig"]["properties"]
    assert sft["evaluation_strategy"]["enum"] == sft["eval_strategy"]["enum"]
    assert "eval_strategy" in sft["evaluation_strategy"]["description"]


def test_model_is_required(spec_props: dict[str, Any], crd: dict[str, Any]) -> None:
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "modelConfig" in spec["required"]
    assert spec_props["modelConfig"]["required"] == ["model_name_or_path"]


def test_status_declares_every_field_the_operator_writes(crd: dict[str, Any]) -> None:
    status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
    props = status["properties"]
    for name in (
        "phase",
        "message",
        "conditions",
        "observedGeneration",
        "startTime",
        "completionTime",
        "restarts",
        "attempt",
        "lastCheckpoint",
        "outputDir",
        "progress",
        "kopf",
    ):
        assert name in props, name
    progress = props["progress"]["properties"]
    assert progress["lossHistory"]["maxItems"] == 200
    assert set(progress) >= {"step", "maxSteps", "epoch", "percent", "loss", "etaSeconds"}


def crd_rules_of(node: Any) -> list[tuple[str, str]]:
    """(path, rule) of every x-kubernetes-validations rule in a schema."""
    if isinstance(node, dict):
        found = [("", r["rule"]) for r in node.get("x-kubernetes-validations", ())]
        for key, child in node.items():
            found += [(f"{key}/{path}", rule) for path, rule in crd_rules_of(child)]
        return found
    if isinstance(node, list):
        return [found for child in node for found in crd_rules_of(child)]
    return []


def test_the_crd_keeps_only_rules_about_one_field_or_the_storage_block(
    crd: dict[str, Any],
) -> None:
    # Rules on the spec or a TRL block would run on every status write, reading through
    # sftConfig's 170+ fields; the spec policy holds those.
    rules = crd_rules_of(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    assert rules
    for path, rule in rules:
        assert "oldSelf" not in rule, path
        parts = path.strip("/").split("/")
        at = parts[-2] if parts[-1] == "properties" else parts[-1]
        assert at not in ("spec", "sftConfig", "modelConfig", "scriptArgs", "datasetMixture"), (
            path,
            rule,
        )


def test_the_spec_policy_skips_status_writes_and_freezes_the_training_settings(
    crd: dict[str, Any],
) -> None:
    policy = spec_policy.spec_policy()
    (match,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert match["resources"] == ["sftjobs"]  # not sftjobs/status
    assert match["operations"] == ["CREATE", "UPDATE"]
    frozen = [v for v in policy["spec"]["validations"] if "is immutable" in v["message"]]
    assert all(v["expression"].startswith("request.operation != 'UPDATE' || ") for v in frozen)
    guarded = {v["message"].split(" ", 1)[0] for v in frozen}
    assert guarded == {
        "spec.scriptArgs",
        "spec.datasetMixture",
        "spec.modelConfig",
        "spec.sftConfig",
        "spec.storage",
        "spec.nodes",
        "spec.gpusPerNode",
        "spec.distributed",
        "spec.image",
    }
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    mutable = set(spec["properties"]) - {name.removeprefix("spec.") for name in guarded}
    assert {"suspend", "resources", "env", "podTemplate"} <= mutable


def test_fields_file_lists_kinds(generated: dict[Path, str]) -> None:
    data = json.loads(generated[gen_crd.FIELDS_PATH])
    assert data["trl"] == "1.16.0"
    sft = data["blocks"]["sftConfig"]["fields"]
    assert sft["learning_rate"] == "number"
    assert sft["deepspeed"] == "object-or-string"
    assert sft["fsdp"] == "bool-or-string"
    assert "hub_token" not in sft  # rejected in the spec


def test_committed_crd_is_the_one_in_the_repo() -> None:
    assert gen_crd.CRD_PATH == ROOT / "crds" / "sftjob.yaml"
