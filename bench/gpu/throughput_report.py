"""bench/results/gpu_throughput.json: the GPU runs of throughput.py, pooled.

    python bench/gpu/throughput_report.py [--check]

Each GPU run's report is kept as it came back, in bench/results/gpu_throughput/, and
runs.json there lists them with the machine lease each ran on. This writes the summary the
README quotes: per shape and scenario, every finished measurement (tokens/s, time to the
first step, peak memory), the mean tokens/s and its MFU (of the stall-free measurements
when per-step times were recorded), and sftjob_over_trl from trl_sft and sftjob_train.

Which measurements count for sftjob_over_trl: those of one lease (the same GPU) whose
per-step times were recorded and show no stall in the steady window (a step over twice the
window's median; the first training process of a shape on a machine took 1.8 to 3.2 s
for three of its first four steps, against 0.4 to 0.7 s later). Pooled per lease: the mean
of sftjob_train's over the mean of trl_sft's; with several leases, the lowest. --check
fails when the committed summary is stale.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from throughput import FAST_MFU_TARGET, PAIR, SFTJOB_OVER_TRL_TARGET, mfu  # noqa: E402

ROOT = HERE.parents[1]
RUNS = ROOT / "bench" / "results" / "gpu_throughput"
SUMMARY = ROOT / "bench" / "results" / "gpu_throughput.json"
STALL_FACTOR = 2.0


def stalled(step_times: Sequence[float], skip: int) -> bool:
    """A step in the steady window (after `skip` log lines) over STALL_FACTOR x its median."""
    window = list(step_times[skip:])
    if not window:
        return False
    median = statistics.median(window)
    return any(t > STALL_FACTOR * median for t in window)


def measurements(
    run: Mapping[str, Any], entry: Mapping[str, Any]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(shape, scenario, measurement) for every finished run of a scenario in one report;
    a scenario run in rounds gives one per round."""
    skip = run["sizes"]["skip"]
    for shape, report in run["shapes"].items():
        for name, result in report["scenarios"].items():
            for one in result.get("rounds") or [result]:
                if one.get("status") != "ok" or not one.get("tokens_per_s"):
                    continue
                steps = one.get("step_times_s")
                yield (
                    shape,
                    name,
                    {
                        "run": entry["file"],
                        "lease": entry["lease"],
                        "tokens_per_s": one["tokens_per_s"],
                        "time_to_first_step_s": one.get("time_to_first_step_s"),
                        "peak_memory_mib": one.get(
                            "peak_memory_mib", result.get("peak_memory_mib")
                        ),
                        "settings": result.get("settings"),
                        "steps_checked": steps is not None,
                        "stalled": stalled(steps, skip) if steps is not None else None,
                    },
                )


def pair_ratio(found: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any] | None:
    """sftjob_over_trl of one shape: per lease, from the measurements checked stall-free."""
    by_lease: dict[str, dict[str, list[float]]] = {}
    for name in PAIR:
        for m in found.get(name, ()):
            if m["steps_checked"] and not m["stalled"]:
                by_lease.setdefault(m["lease"], {}).setdefault(name, []).append(m["tokens_per_s"])
    ratios = {
        lease: round(statistics.mean(tps["sftjob_train"]) / statistics.mean(tps["trl_sft"]), 4)
        for lease, tps in by_lease.items()
        if tps.get("trl_sft") and tps.get("sftjob_train")
    }
    if not ratios:
        return None
    return {"ratio": min(ratios.values()), "by_lease": ratios, "tokens_per_s": by_lease}


def same(runs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], key: str) -> Any:
    """A report field every run agrees on; else each run's, by file."""
    values = {json.dumps(run[key], sort_keys=True) for _, run in runs}
    if len(values) == 1:
        return runs[0][1][key]
    return {entry["file"]: run[key] for entry, run in runs}


def counted(ms: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], str]:
    """The measurements a scenario's mean is of, and which they are."""
    checked = [m for m in ms if m["steps_checked"] and not m["stalled"]]
    if checked:
        return checked, "stall-free by its per-step times"
    unchecked = [m for m in ms if not m["steps_checked"]]
    if unchecked:
        return unchecked, "per-step times not recorded: a stall would only lower it"
    return [], "every measurement stalled"


def summarize(runs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> dict[str, Any]:
    """The summary of (manifest entry, report) pairs."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entry, run in runs:
        for shape, name, m in measurements(run, entry):
            found.setdefault(shape, {}).setdefault(name, []).append(m)
    parameters = {s: r["parameters"] for _, run in runs for s, r in run["shapes"].items()}
    peak = same(runs, "peak_bf16_flops")
    if not isinstance(peak, (int, float)):
        raise ValueError(f"the runs were on GPUs of different peaks: {peak}")

    scenarios: dict[str, dict[str, Any]] = {}
    for shape, by_name in found.items():
        scenarios[shape] = {}
        for name, ms in by_name.items():
            chosen, which = counted(ms)
            mean = round(statistics.mean(m["tokens_per_s"] for m in chosen), 1) if chosen else None
            scenarios[shape][name] = {
                "tokens_per_s": mean,
                "mfu": mfu(parameters[shape], mean, peak),
                "counted": which,
                "measurements": ms,
            }
    ratios = {shape: pair_ratio(by_name) for shape, by_name in found.items()}
    fast = {
        shape: max(
            (n for n in by_name if n.startswith("fast_") and scenarios[shape][n]["tokens_per_s"]),
            key=lambda n: scenarios[shape][n]["tokens_per_s"],
            default=None,
        )
        for shape, by_name in found.items()
    }
    big = scenarios.get("1.5b", {}).get(fast.get("1.5b") or "", {})
    met = [r["ratio"] >= SFTJOB_OVER_TRL_TARGET for r in ratios.values() if r]
    return {
        "benchmark": "gpu_throughput",
        "generated_by": "bench/gpu/throughput_report.py from bench/results/gpu_throughput/",
        "device": sorted({run["device"] for _, run in runs}),
        "peak_bf16_flops": peak,
        "mfu_formula": same(runs, "mfu_formula"),
        "versions": same(runs, "versions"),
        "differs_from_pins": same(runs, "differs_from_pins"),
        "sftjob_over_trl": {s: (r["ratio"] if r else None) for s, r in ratios.items()},
        "mfu": {s: {n: v["mfu"] for n, v in by.items()} for s, by in scenarios.items()},
        "fast": fast,
        "acceptance": {
            "sftjob_over_trl_target": SFTJOB_OVER_TRL_TARGET,
            "sftjob_over_trl_met": bool(met) and all(met),
            "fast_mfu_1.5b": big.get("mfu"),
            "fast_mfu_target": FAST_MFU_TARGET,
            "fast_mfu_met": (big.get("mfu") or 0) >= FAST_MFU_TARGET,
        },
        "pairs": ratios,
        "scenarios": scenarios,
        "runs": [entry for entry, _ in runs],
    }


def load(directory: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    manifest = json.loads((directory / "runs.json").read_text())
    return [(entry, json.loads((directory / entry["file"]).read_text())) for entry in manifest]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the summary is stale")
    args = parser.parse_args()
    text = json.dumps(summarize(load(RUNS)), indent=2) + "\n"
    if args.check:
        if not SUMMARY.exists() or SUMMARY.read_text() != text:
            print(f"{SUMMARY} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    SUMMARY.write_text(text)
    print(json.dumps({k: json.loads(text)[k] for k in ("sftjob_over_trl", "mfu", "acceptance")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
