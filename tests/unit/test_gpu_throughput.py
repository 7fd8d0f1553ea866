"""bench/gpu/throughput.py's pure parts: the step-log timing, MFU, the batch that fills the
GPU, the configs both tools get from the operator's render, and the report's ratios."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml
from sftjob_operator.api.paths import DATASETS_CACHE

from bench.gpu import steplog, throughput

SIZES = throughput.GPU_SIZES


def stamped(*points: tuple[float, int]) -> steplog.Stamped:
    lines: steplog.Stamped = [(0.1, "loading\n")]
    lines += [(t, f"{{'loss': 9.1, 'num_tokens': {n}.0, 'epoch': 0.1}}\n") for t, n in points]
    lines.append((99.0, "{'train_runtime': 50.0}\n"))
    return lines


def test_steady_tokens_per_s_leaves_out_the_first_steps() -> None:
    log = stamped((20.0, 1000), (21.0, 2000), (30.0, 3000), (31.0, 4000), (32.0, 5000))
    assert steplog.steady_tokens_per_s(log, skip=2) == 1000.0
    assert steplog.first_step_s(log) == 20.0
    assert steplog.steady_tokens_per_s(log[:3], skip=2) is None
    assert steplog.first_step_s([(1.0, "no steps\n")]) is None


def test_mfu_is_six_n_per_token_over_the_peak() -> None:
    assert throughput.mfu(1_000_000_000, 10_000.0, 989e12) == round(6e13 / 989e12, 4)
    assert throughput.mfu(1, None, 989e12) is None
    assert throughput.mfu(1, 1.0, None) is None


def test_the_fast_batch_doubles_the_users_while_it_fits() -> None:
    shape = throughput.QWEN2_SHAPES["1.5b"]
    tokens = throughput.tokens_to_fill(shape, 1_540_000_000, 141e9)
    assert 8 * 2048 < tokens < 64 * 2048
    fast = next(s for s in throughput.scenarios(SIZES, gpu=True) if s.name == "fast_sdpa_wrapped")
    batch = throughput.filled(fast, SIZES, tokens).sft["per_device_train_batch_size"]
    assert batch * SIZES.max_length <= tokens < 2 * batch * SIZES.max_length
    assert throughput.filled(fast, SIZES, 0).sft["per_device_train_batch_size"] == SIZES.batch


def test_after_an_oom_half_the_batch_then_gradient_checkpointing_then_give_up() -> None:
    fast = next(s for s in throughput.scenarios(SIZES, gpu=True) if s.name == "fast_sdpa_wrapped")
    big = throughput.filled(fast, SIZES, 16 * SIZES.max_length)
    half = throughput.smaller(big, SIZES)
    assert half is not None and half.sft["per_device_train_batch_size"] == 8
    at_users = throughput.filled(fast, SIZES, 0)
    checkpointed = throughput.smaller(at_users, SIZES)
    assert checkpointed is not None and checkpointed.sft["gradient_checkpointing"] is True
    assert throughput.smaller(checkpointed, SIZES) is None


def test_liger_only_on_gpu() -> None:
    for gpu in (True, False):
        fast = [s for s in throughput.scenarios(SIZES, gpu) if s.name.startswith("fast_")]
        assert fast and all(s.sft.get("use_liger_kernel", False) is gpu for s in fast)
        assert all(s.sft["gradient_checkpointing"] is False for s in fast)


def test_both_tools_get_the_operators_trl_yaml_and_pod_env(tmp_path: Path) -> None:
    base = throughput.scenarios(SIZES, gpu=True)[:2]
    prepared = {
        s.tool: throughput.prepare(
            throughput.sftjob(SIZES, s, gpu=True), s.tool, tmp_path / s.name, tmp_path / "a", True
        )
        for s in base
    }
    trl, ours = prepared["trl"], prepared["sftjob"]
    assert trl.trl.pop("output_dir") != ours.trl.pop("output_dir")
    assert trl.trl == ours.trl
    assert ours.trl["model_name_or_path"] == str(tmp_path / "a" / "model")
    assert ours.trl["bf16"] is True and ours.trl["max_length"] == SIZES.max_length
    assert trl.cmd[1:4] == ["-m", "trl.cli.main", "sft"]
    assert ours.cmd[1:3] == ["-m", "sftjob_trainer"] and "--accelerate-config" in ours.cmd
    accelerate = yaml.safe_load(
        Path(ours.cmd[ours.cmd.index("--accelerate-config") + 1]).read_text()
    )
    assert accelerate["num_processes"] == 1
    for env in (trl.env, ours.env):
        assert env["SFTJOB_GPUS_PER_NODE"] == "1"
        # The rendered pod's cache path, mapped onto the scenario's own storage.
        storage = DATASETS_CACHE.removeprefix("/workspace/output")
        assert env["HF_DATASETS_CACHE"].endswith(storage)
        assert env["HF_DATASETS_CACHE"].startswith(str(tmp_path))


def test_summary_ratios_and_the_best_fast_scenario() -> None:
    results = {
        "trl_sft": {"tokens_per_s": 1000.0},
        "sftjob_train": {"tokens_per_s": 990.0},
        "fast_flash": {"status": "skipped"},
        "fast_sdpa": {"tokens_per_s": 2000.0},
        "fast_sdpa_wrapped": {"tokens_per_s": 3000.0},
    }
    assert throughput.summary(results) == {
        "sftjob_over_trl": 0.99,
        "fast": "fast_sdpa_wrapped",
        "fast_over_sftjob": round(3000 / 990, 3),
    }


def test_versions_that_differ_from_the_pins_ignore_local_tags() -> None:
    pinned = throughput.pins()
    assert pinned["liger-kernel"] and pinned["torch"] and pinned["trl"]
    ran = {"torch": f"{pinned['torch']}+cu130", "trl": "0.1", "python": "3.12.3"}
    assert throughput.differs(ran, pinned) == {"trl": {"pinned": pinned["trl"], "ran": "0.1"}}


def test_step_times_are_the_gaps_between_step_lines() -> None:
    log = stamped((20.0, 1000), (21.5, 2000), (30.0, 3000))
    assert steplog.step_times_s(log) == [1.5, 8.5]
    assert steplog.step_times_s(stamped()) == []


def test_rounds_alternate_the_pairs_order_and_the_next_shape_starts_reversed() -> None:
    every = throughput.scenarios(SIZES, gpu=True)
    names = [s.name for s in throughput.schedule(every, rounds=2)]
    fast = [s.name for s in every if s.name.startswith("fast_")]
    assert names == ["trl_sft", "sftjob_train", "sftjob_train", "trl_sft", *fast]
    names = [s.name for s in throughput.schedule(every, rounds=1, first_round=1)]
    assert names == ["sftjob_train", "trl_sft", *fast]


def test_a_scenarios_rounds_are_kept_and_its_tokens_per_s_is_their_mean() -> None:
    first = {"status": "ok", "tokens_per_s": 1000.0, "wall_s": 40.0, "step_times_s": [0.5]}
    second = throughput.merge_round(first, {"status": "ok", "tokens_per_s": 1100.0})
    assert second["tokens_per_s"] == 1050.0
    assert [r["tokens_per_s"] for r in second["rounds"]] == [1000.0, 1100.0]
    # One round's figures are that round's only, not the merged result's.
    assert "wall_s" not in second and second["rounds"][0]["wall_s"] == 40.0
    third = throughput.merge_round(second, {"status": "skipped", "reason": "time budget spent"})
    assert third["tokens_per_s"] == 1050.0 and len(third["rounds"]) == 3
    assert third["rounds"][2] == {"status": "skipped", "reason": "time budget spent"}
    # A failed round keeps its diagnosis; the scenario is ok once a round finished.
    failed = {"status": "failed", "stderr_tail": "boom", "settings": {"a": 1}}
    recovered = throughput.merge_round(failed, {"status": "ok", "tokens_per_s": 900.0})
    assert recovered["status"] == "ok" and recovered["tokens_per_s"] == 900.0
    assert recovered["rounds"][0]["stderr_tail"] == "boom" and recovered["settings"] == {"a": 1}
    both = throughput.merge_round(failed, {"status": "oom"})
    assert both["status"] == "failed" and both["tokens_per_s"] is None


def test_a_run_stopped_by_the_budget_is_a_timeout_not_a_failure(tmp_path: Path) -> None:
    sleeping = throughput.Prepared(
        [sys.executable, "-c", "import time; time.sleep(30)"], dict(os.environ), {}
    )
    result = throughput.measure(sleeping, tmp_path, throughput.CPU_SIZES, False, timeout_s=1.0)
    assert result["status"] == "timeout" and "1 s" in result["reason"]
    failing = throughput.Prepared([sys.executable, "-c", "raise SystemExit(3)"], {}, {})
    assert throughput.measure(failing, tmp_path, throughput.CPU_SIZES, False, 30)["status"] == (
        "failed"
    )
