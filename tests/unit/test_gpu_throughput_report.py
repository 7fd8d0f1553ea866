"""bench/gpu/throughput_report.py: which GPU measurements count, and the committed summary
is what the committed runs give."""

from __future__ import annotations

import json
from typing import Any

from bench.gpu import throughput_report as report

STEADY = [3.0, 0.5, 3.0, 2.9, 0.6, 0.6, 0.5, 0.6]  # a stalled start, then steady


def run(scenarios: dict[str, Any], device: str = "NVIDIA H200") -> dict[str, Any]:
    return {
        "device": device,
        "peak_bf16_flops": 1e15,
        "mfu_formula": "6 x N x tokens/s / peak",
        "versions": {"trl": "1"},
        "differs_from_pins": {},
        "sizes": {"skip": 4},
        "shapes": {"1.5b": {"parameters": 10**9, "scenarios": scenarios}},
    }


def ok(tokens: float, steps: list[float] | None = STEADY) -> dict[str, Any]:
    result: dict[str, Any] = {"status": "ok", "tokens_per_s": tokens}
    if steps is not None:
        result["step_times_s"] = steps
    return result


def test_a_stall_counts_only_inside_the_steady_window() -> None:
    assert not report.stalled(STEADY, skip=4)
    assert report.stalled([*STEADY, 2.0], skip=4)
    assert not report.stalled([], skip=4)


def test_the_ratio_pools_one_lease_and_leaves_out_unchecked_and_stalled_runs() -> None:
    a = {"file": "a.json", "lease": "a"}
    b = {"file": "b.json", "lease": "b"}
    lease_a = run({"trl_sft": ok(500.0, steps=None), "sftjob_train": ok(1000.0, steps=None)})
    lease_b = run(
        {
            "trl_sft": {
                **ok(1000.0),
                "rounds": [ok(1000.0), ok(800.0, [*STEADY, 9.0]), ok(1100.0)],
            },
            "sftjob_train": ok(1000.0),
            "fast_x": ok(60000.0, steps=None),
        }
    )
    summary = report.summarize([(a, lease_a), (b, lease_b)])
    # lease a's runs have no per-step times; b's stalled round is left out: 1000 / 1050.
    assert summary["sftjob_over_trl"] == {"1.5b": round(1000 / 1050, 4)}
    assert summary["pairs"]["1.5b"]["by_lease"] == {"b": round(1000 / 1050, 4)}
    trl = summary["scenarios"]["1.5b"]["trl_sft"]
    assert trl["tokens_per_s"] == 1050.0 and len(trl["measurements"]) == 4
    assert summary["mfu"]["1.5b"]["trl_sft"] == round(6 * 10**9 * 1050.0 / 1e15, 4)
    # Unchecked measurements still give a fast scenario its MFU, and say so.
    fast = summary["scenarios"]["1.5b"]["fast_x"]
    assert fast["mfu"] == 0.36 and "not recorded" in fast["counted"]
    assert summary["fast"] == {"1.5b": "fast_x"}
    assert summary["acceptance"]["fast_mfu_met"] is False  # 0.36 < 0.40
    assert summary["acceptance"]["sftjob_over_trl_met"] is False  # 0.952 < 0.98


def test_a_scenario_whose_every_measurement_stalled_has_no_figure() -> None:
    stalls = [*STEADY, 9.0]
    summary = report.summarize(
        [({"file": "a.json", "lease": "a"}, run({"fast_x": ok(9.0, stalls), "fast_y": ok(1.0)}))]
    )
    fast_x = summary["scenarios"]["1.5b"]["fast_x"]
    assert fast_x["tokens_per_s"] is None and fast_x["mfu"] is None
    assert fast_x["counted"] == "every measurement stalled"
    assert summary["fast"] == {"1.5b": "fast_y"}


def test_runs_that_disagree_on_versions_keep_each_runs() -> None:
    a, b = run({}), {**run({}), "versions": {"trl": "2"}}
    summary = report.summarize([({"file": "a", "lease": "x"}, a), ({"file": "b", "lease": "x"}, b)])
    assert summary["versions"] == {"a": {"trl": "1"}, "b": {"trl": "2"}}


def test_with_several_leases_the_lowest_ratio_is_the_one_reported() -> None:
    runs = [
        (
            {"file": f"{lease}.json", "lease": lease},
            run({"trl_sft": ok(1000.0), "sftjob_train": ok(t)}),
        )
        for lease, t in (("a", 990.0), ("b", 1030.0))
    ]
    summary = report.summarize(runs)
    assert summary["sftjob_over_trl"] == {"1.5b": 0.99}
    assert summary["acceptance"]["sftjob_over_trl_met"] is True


def test_the_committed_summary_is_what_the_committed_runs_give() -> None:
    expected = report.summarize(report.load(report.RUNS))
    assert json.loads(report.SUMMARY.read_text()) == expected
    assert expected["device"] == ["NVIDIA H200"]
