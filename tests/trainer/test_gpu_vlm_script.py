"""bench/gpu/vlm.py, the GPU scenario for vision-language SFT, runs its logic on CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.trainer

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_vlm_scenario_runs_on_cpu_with_the_tiny_shape(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu" / "vlm.py"), "--shape", "tiny",
         "--steps", "4", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "vlm.json").read_text())
    assert report["steps"] == 4 and report["device"] == "cpu"
    assert report["tokens_per_s_steady"] > 0 and report["parameters"] > 0
