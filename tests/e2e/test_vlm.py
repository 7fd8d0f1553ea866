"""A vision-language SFTJob through the operator to Succeeded, on the devcluster's local node.

The tiny offline LLaVA and its image dataset sit on the example's assets claim, whose
images the pod reads at their mounted paths.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_tiny_cpu import TRAINING_TIMEOUT, phase_in, tiny_job
from tests.operator_fixtures import status, wait_for

pytestmark = pytest.mark.e2e

MOUNT = "/var/lib/sftjob-demo"  # where examples/tiny-cpu.yaml mounts the assets claim


def test_vision_language_job_succeeds_with_progress(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, tiny_assets: Path
) -> None:
    from sftjob_trainer.tinyvlm import build

    vlm = tiny_assets / "vlm"
    if not (vlm / "model" / "config.json").exists():
        build(vlm, seen_as=f"{MOUNT}/vlm")
    job = tiny_job(namespace, "vlm", sftConfig={"max_steps": 24, "save_steps": 12})
    job["spec"]["modelConfig"]["model_name_or_path"] = f"{MOUNT}/vlm/model"
    job["spec"]["datasetMixture"]["datasets"] = [
        {"path": "json", "data_files": f"{MOUNT}/vlm/data/train.jsonl", "split": "train"}
    ]
    job["spec"]["sftConfig"]["max_length"] = None  # whole sequences: no image token is cut
    # `kubectl create`: client-side `kubectl apply` would drop the null.
    devcluster.kubectl("create", "-f", "-", input=yaml.safe_dump(job))
    seen: list[float] = []

    def finished() -> dict[str, Any] | None:
        percent = (status(devcluster, namespace, "vlm").get("progress") or {}).get("percent")
        if percent is not None and (not seen or percent != seen[-1]):
            seen.append(float(percent))
        return phase_in(devcluster, namespace, "vlm", "Succeeded", "Failed")

    final = wait_for("the VLM job to finish", finished, timeout=TRAINING_TIMEOUT)
    assert final["phase"] == "Succeeded", final
    progress = final["progress"]
    assert progress["percent"] == 100.0 and progress["step"] == 24
    assert progress["tokensPerSecond"] > 0 and progress["loss"] is not None
    assert (demo_claims / "processor_config.json").is_file()  # saved with the model
    config = devcluster.kubectl("get", "configmap", "vlm-config", "-n", namespace, "-o", "json")
    trl = yaml.safe_load(json.loads(config.stdout)["data"]["trl.yaml"])
    assert trl["max_length"] is None
