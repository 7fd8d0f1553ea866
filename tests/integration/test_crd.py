"""The generated CRD on a real kube-apiserver: examples accepted, invalid manifests rejected
with an error that names the field, training settings immutable, kubectl explain shows TRL's
documentation, the status schema keeps what the operator writes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from sftjob_operator.api import identity

from tests.operator_fixtures import install_crd

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
INVALID = sorted((ROOT / "tests" / "data" / "invalid").glob("*.yaml"))
CREATES = [p for p in INVALID if "# update:" not in p.read_text()]
UPDATES = [p for p in INVALID if "# update:" in p.read_text()]


def expected_field(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("# expect: "):
            return line.removeprefix("# expect: ").strip()
    raise AssertionError(f"{path} has no '# expect: <field>' line")


@pytest.fixture(scope="module")
def cluster(devcluster: Any) -> Any:
    install_crd(devcluster)
    return devcluster


def apply(
    cluster: Any, namespace: str, manifest: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("apply", "-n", namespace, *extra, "-f", "-", input=manifest, check=False)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_server_side_dry_run(cluster: Any, namespace: str, path: Path) -> None:
    result = apply(cluster, namespace, path.read_text(), "--dry-run=server")
    assert result.returncode == 0, result.stderr


def test_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 40


@pytest.mark.parametrize("path", CREATES, ids=lambda p: p.stem)
def test_invalid_manifest_is_rejected_naming_the_field(
    cluster: Any, namespace: str, path: Path
) -> None:
    result = apply(cluster, namespace, path.read_text(), "--dry-run=server")
    assert result.returncode != 0, f"{path.name} was accepted"
    assert expected_field(path) in result.stderr, result.stderr


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.stem)
def test_training_settings_are_immutable(cluster: Any, namespace: str, path: Path) -> None:
    original, changed = yaml.safe_load_all(path.read_text())
    created = apply(cluster, namespace, yaml.safe_dump(original))
    assert created.returncode == 0, created.stderr
    result = apply(cluster, namespace, yaml.safe_dump(changed))
    assert result.returncode != 0, f"the update in {path.name} was accepted"
    assert expected_field(path) in result.stderr, result.stderr
    assert "immutable" in result.stderr
    stored = get(cluster, namespace, original["metadata"]["name"])
    assert stored["spec"]["sftConfig"] == original["spec"]["sftConfig"]


def get(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    out = cluster.kubectl("get", identity.PLURAL, name, "-n", namespace, "-o", "json").stdout
    return dict(json.loads(out))


def test_suspend_and_scheduling_fields_stay_mutable(cluster: Any, namespace: str) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "kueue.yaml").read_text())
    assert apply(cluster, namespace, yaml.safe_dump(doc)).returncode == 0
    name = doc["metadata"]["name"]
    patch = {
        "spec": {
            "suspend": True,
            "resources": {"cpu": "16"},
            "podTemplate": {
                "nodeSelector": {"pool": "a100"},
                "tolerations": [{"key": "gpu", "operator": "Exists"}],
                "priorityClassName": "batch-high",
            },
        }
    }
    result = cluster.kubectl(
        "patch",
        identity.PLURAL,
        name,
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps(patch),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    spec = get(cluster, namespace, name)["spec"]
    assert spec["suspend"] is True
    assert spec["podTemplate"]["nodeSelector"] == {"pool": "a100"}
    assert spec["resources"]["cpu"] == "16"


def test_defaults_are_applied(cluster: Any, namespace: str) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "single-gpu-lora.yaml").read_text())
    assert apply(cluster, namespace, yaml.safe_dump(doc)).returncode == 0
    spec = get(cluster, namespace, doc["metadata"]["name"])["spec"]
    assert (spec["nodes"], spec["distributed"], spec["suspend"], spec["backoffLimit"]) == (
        1,
        "auto",
        False,
        3,
    )
    assert spec["image"]


def test_legacy_names_are_stored_as_written(cluster: Any, namespace: str) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "legacy-seed-config.yaml").read_text())
    assert apply(cluster, namespace, yaml.safe_dump(doc)).returncode == 0
    spec = get(cluster, namespace, doc["metadata"]["name"])["spec"]
    assert spec["sftConfig"]["evaluation_strategy"] == "steps"
    assert spec["modelConfig"]["torch_dtype"] == "bfloat16"
    assert spec["scriptArgs"]["skip_prepare_dataset"] is True


def test_explain_prints_trl_help(cluster: Any) -> None:
    from trl import SFTConfig

    help_text = {f.name: f.metadata["help"] for f in dataclasses.fields(SFTConfig)}["packing"]
    out = cluster.kubectl("explain", "sftjob.spec.sftConfig.packing").stdout
    assert " ".join(help_text.split()[:12]) in " ".join(out.split())


def test_status_fields_survive_a_status_update(cluster: Any, namespace: str) -> None:
    doc = yaml.safe_load((ROOT / "examples" / "tiny-cpu.yaml").read_text())
    # An operator started by an earlier test may be running; it leaves a deleting SFTJob
    # alone, and a finalizer keeps this one deleting (not gone) while its status is written.
    doc["metadata"]["finalizers"] = [HOLD]
    assert apply(cluster, namespace, yaml.safe_dump(doc)).returncode == 0
    name = doc["metadata"]["name"]
    cluster.kubectl("delete", identity.PLURAL, name, "-n", namespace, "--wait=false")
    try:
        check_status_survives(cluster, namespace, name)
    finally:
        cluster.kubectl(
            "patch", identity.PLURAL, name, "-n", namespace, "--type=merge",
            "-p", json.dumps({"metadata": {"finalizers": None}}),
        )  # fmt: skip


HOLD = "tests.sftjob.dev/hold"


def check_status_survives(cluster: Any, namespace: str, name: str) -> None:
    status = {
        "phase": "Running",
        "message": "training",
        "observedGeneration": 1,
        "startTime": "2026-01-01T00:00:00Z",
        "restarts": 0,
        "attempt": 1,
        "outputDir": "/workspace/output",
        "lastCheckpoint": "checkpoint-10",
        "conditions": [{"type": "ConfigNormalized", "status": "True", "reason": "Translated"}],
        "progress": {
            "step": 10,
            "maxSteps": 20,
            "epoch": 0.5,
            "percent": 50.0,
            "loss": 1.25,
            "learningRate": 0.001,
            "tokensPerSecond": 123.4,
            "etaSeconds": 30,
            "updatedAt": "2026-01-01T00:01:00Z",
            "lossHistory": [{"step": 5, "loss": 2.0}, {"step": 10, "loss": 1.25}],
        },
        "kopf": {"progress": {"handler": {"started": "x"}}},
    }
    result = cluster.kubectl(
        "patch",
        identity.PLURAL,
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert get(cluster, namespace, name)["status"] == status
    table = cluster.kubectl("get", identity.SHORT_NAMES[0], name, "-n", namespace).stdout
    header, row = table.splitlines()[:2]
    assert header.split() == [
        "NAME", "PHASE", "PROGRESS", "LOSS", "NODES", "GPUS/NODE", "QUEUE", "AGE"
    ]  # fmt: skip
    assert row.split()[1:6] == ["Running", "50", "1.25", "1", "0"]
