"""bench/gpu/throughput.py runs its whole logic on CPU with a tiny model, so the GPU run is
one prepared call: trl sft and sftjob-train on the operator's configs, the fast path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.trainer

ROOT = Path(__file__).resolve().parents[2]


def test_the_throughput_benchmark_runs_on_cpu_with_a_tiny_model(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu" / "throughput.py"), "--cpu-check",
         "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=840,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert not (tmp_path / "out" / "gpu_throughput.json").exists()
    report = json.loads((tmp_path / "out" / "throughput_cpu_check.json").read_text())
    assert report["device"] == "cpu" and report["benchmark"] == "throughput_cpu_check"
    assert report["versions"]["trl"] and report["pinned"]["trl"]
    tiny = report["shapes"]["tiny"]
    scenarios = tiny["scenarios"]
    for name in ("trl_sft", "sftjob_train", "fast_sdpa", "fast_sdpa_wrapped"):
        result = scenarios[name]
        assert result["status"] == "ok", (name, result)
        assert result["tokens_per_s"] > 0 and result["time_to_first_step_s"] > 0
        assert result["peak_memory_mib"] > 0 and result["mfu"] is None  # no CPU peak
        assert len(result["step_times_s"]) == report["sizes"]["steps"] - 1
    assert scenarios["fast_flash"]["status"] == "skipped"  # flash-attn needs CUDA
    assert scenarios["fast_flex"]["status"] == "skipped"  # no flex backward on CPU
    assert "flex attention on CPU" in scenarios["fast_flex"]["reason"]
    # Same trl.yaml for both tools (the operator's), the fast path's own settings on top.
    assert scenarios["trl_sft"]["trl_yaml"] == scenarios["sftjob_train"]["trl_yaml"]
    fast = scenarios["fast_sdpa_wrapped"]["trl_yaml"]
    assert fast["gradient_checkpointing"] is False and fast["packing_strategy"] == "wrapped"
    assert 0 < tiny["sftjob_over_trl"] == report["sftjob_over_trl"]["tiny"]
    assert tiny["fast"] in ("fast_sdpa", "fast_sdpa_wrapped")
    # Where the fast path's time goes: torch.profiler's table of its steps.
    assert tiny["profile"]["status"] == "ok", tiny["profile"]
    assert "Self CPU" in (tmp_path / "out" / "profile_tiny.txt").read_text()
