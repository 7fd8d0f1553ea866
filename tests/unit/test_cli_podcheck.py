"""Unknown fields of the trainer's pod template, found with the kubernetes client's models."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from sftjob_cli.main import main
from sftjob_cli.podcheck import unknown_fields

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_keys_are_named_at_any_depth() -> None:
    pod = {
        "tolerations": [{"key": "gpu", "operator": "Exists"}, {"key": "a", "operatr": "Exists"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpresions": []}]}}},
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "c", "readonly": True}}],
        "nodeSelector": {"gpu": "h200"},
        "containers": [{"name": "t", "image": "i", "volumeMounts": [{"name": "v", "mountpath": "/x"}]}],
    }  # fmt: skip
    assert unknown_fields(pod, "V1PodSpec", "spec") == [
        "spec.tolerations[1].operatr",
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpresions",
        "spec.volumes[0].persistentVolumeClaim.readonly",
        "spec.containers[0].volumeMounts[0].mountpath",
    ]


def test_a_pod_spec_of_known_fields_passes() -> None:
    pod = {"tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule",
                            "tolerationSeconds": 3}], "priorityClassName": "high"}  # fmt: skip
    assert unknown_fields(pod, "V1PodSpec", "spec") == []


def test_validate_names_the_sftjob_field_of_an_unknown_pod_template_key(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "tiny-cpu.yaml").read_text())
    doc["spec"]["podTemplate"]["tolerations"].append({"key": "gpu", "operatr": "Exists"})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    index = len(doc["spec"]["podTemplate"]["tolerations"]) - 1
    assert "it would refuse the trainer's Job (CreateFailed)" in result.output
    assert f"spec.podTemplate.tolerations[{index}].operatr: unknown field" in result.output
