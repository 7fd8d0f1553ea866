"""Overhead of `sftjob-train` against TRL's own `trl sft` on the same config.

Both run the same trl.yaml (tiny offline Qwen2 from sftjob_trainer.tinymodel, CPU),
alternating, RUNS times each. Reported per tool: wall time of the whole command,
tokens/s inside training (the Trainer's own `num_tokens` / `train_runtime`, read from the
final checkpoint's trainer_state.json), and peak RSS. Ratios are ours / TRL's.

    .venv/bin/python bench/trainer_overhead.py [--runs 5] [--max-steps 300]

Writes bench/results/trainer_overhead.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "trainer_overhead.json"
BIN = Path(sys.executable).parent
TARGET_OVERHEAD = 0.03
# What the operator renders for a 1-node CPU job; the pods always pass it.
ACCELERATE_WORLD_SIZE_1 = {
    "compute_environment": "LOCAL_MACHINE",
    "distributed_type": "NO",
    "num_machines": 1,
    "num_processes": 1,
    "machine_rank": 0,
    "main_process_port": 29500,
    "mixed_precision": "no",
    "use_cpu": True,
}


def trl_config(model: Path, data: Path, output_dir: Path, max_steps: int) -> dict[str, Any]:
    return {
        "model_name_or_path": str(model),
        "dataset_name": str(data),
        "output_dir": str(output_dir),
        "max_steps": max_steps,
        "per_device_train_batch_size": 8,
        "learning_rate": 0.001,
        "logging_steps": 10,
        "save_strategy": "steps",
        "save_steps": max_steps,
        "max_length": 64,
        "use_cpu": True,
        "bf16": False,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        "seed": 0,
    }


def train_runtime(log: str) -> float:
    """The Trainer's own `train_runtime`, from the metrics dict it prints at the end."""
    for line in log.splitlines():
        start = line.find("{'train_runtime'")
        if start >= 0:
            metrics = ast.literal_eval(line[start : line.rindex("}") + 1])
            return float(metrics["train_runtime"])
    raise RuntimeError("no train_runtime in the log")


def run_once(
    cmd: list[str], env: dict[str, str], output_dir: Path, max_steps: int
) -> dict[str, Any]:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = subprocess.Popen(cmd, env=env, stdout=out_f, stderr=err_f)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out_f.seek(0)
        err_f.seek(0)
        stdout = out_f.read().decode(errors="replace")
        stderr = err_f.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}:\n{stderr[-3000:]}")
    state = json.loads((output_dir / f"checkpoint-{max_steps}" / "trainer_state.json").read_text())
    tokens = max(e["num_tokens"] for e in state["log_history"] if "num_tokens" in e)
    runtime = train_runtime(stdout + stderr)
    return {
        "wall_s": round(wall, 3),
        "train_runtime_s": round(runtime, 3),
        "tokens_per_s": round(tokens / runtime, 1),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # largest process of the tree
    }


def machine() -> dict[str, Any]:
    import torch
    import transformers
    import trl

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "device": "cpu",
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: round(statistics.median(r[key] for r in runs), 3)
        for key in ("wall_s", "train_runtime_s", "tokens_per_s", "peak_rss_mib")
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()

    from sftjob_trainer.tinymodel import build

    with tempfile.TemporaryDirectory(prefix="sftjob-bench-") as tmp:
        work = Path(tmp)
        assets = build(work / "tiny")
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(work / "hf-home"),
            "SFTJOB_PROGRESS_FILE": str(work / "progress.jsonl"),
            "OMP_NUM_THREADS": "1",  # stable on a shared CPU; same for both tools
        }
        accel = work / "accelerate.yaml"
        accel.write_text(yaml.safe_dump(ACCELERATE_WORLD_SIZE_1))
        tools = {
            "sftjob-train": lambda cfg: [str(BIN / "sftjob-train"), "--config", str(cfg)],
            "sftjob-train --accelerate-config": lambda cfg: [
                str(BIN / "sftjob-train"),
                "--config",
                str(cfg),
                "--accelerate-config",
                str(accel),
            ],
            "trl sft": lambda cfg: [str(BIN / "trl"), "sft", "--config", str(cfg)],
        }
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
        for i in range(args.runs):
            for name, command in tools.items():
                slug = name.replace(" ", "").replace("-", "")
                out = work / f"out-{slug}-{i}"
                cfg = work / f"trl-{slug}-{i}.yaml"
                config = trl_config(assets.model, assets.text_data, out, args.max_steps)
                cfg.write_text(yaml.safe_dump(config))
                result = run_once(command(cfg), env, out, args.max_steps)
                results[name].append(result)
                print(f"run {i + 1}/{args.runs} {name}: {result}", flush=True)

    medians = {name: summarize(runs) for name, runs in results.items()}
    trl = medians["trl sft"]

    def ratios(ours: dict[str, Any]) -> dict[str, float]:
        return {
            "wall_time": round(ours["wall_s"] / trl["wall_s"], 3),
            "train_runtime": round(ours["train_runtime_s"] / trl["train_runtime_s"], 3),
            "tokens_per_s": round(ours["tokens_per_s"] / trl["tokens_per_s"], 3),
            "peak_rss": round(ours["peak_rss_mib"] / trl["peak_rss_mib"], 3),
        }

    all_ratios = {name: ratios(m) for name, m in medians.items() if name != "trl sft"}
    worst = max(r["wall_time"] for r in all_ratios.values())
    report = {
        "benchmark": "trainer_overhead",
        "description": "same trl.yaml via `sftjob-train` (one process), via `sftjob-train "
        "--accelerate-config` (the pods' path: accelerate launch, world size 1) and via "
        "`trl sft --config` (accelerate launch of trl/scripts/sft.py); alternating; medians; "
        "OMP_NUM_THREADS=1 for all",
        "runs_each": args.runs,
        "config": trl_config(
            Path("tiny/model"), Path("tiny/data/text"), Path("out"), args.max_steps
        ),
        "machine": machine(),
        "median": medians,
        "ratios_ours_over_trl": all_ratios,
        "worst_wall_overhead": round(worst - 1, 4),
        "target_wall_overhead": TARGET_OVERHEAD,
        "meets_target": worst - 1 <= TARGET_OVERHEAD,
        "runs": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("median", "ratios_ours_over_trl", "meets_target")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
