"""Time to the first training step: `sftjob-train` against `trl sft` on CPU, and where it goes.

    .venv/bin/python bench/trainer_startup.py [--runs 3] [--rows 10000]

The tiny offline Qwen2 (sftjob_trainer.tinymodel) and --rows synthetic JSONL rows (the GPU
benchmarks' data, bench/gpu/smoke.py), so that preparing the dataset shows; one trl.yaml
(logging_steps 1, max_steps 3); alternating, --runs times each, every run on a fresh
storage directory with HF_DATASETS_CACHE on it, as the operator renders the pod:

    trl sft                    TRL's own script under accelerate launch: the baseline
    sftjob-train               one process (no accelerate config)
    sftjob-train --accelerate-config           the pods' path (accelerate launch, 1 process)
    sftjob-train --accelerate-config restart   the same again on the previous run's storage:
                                               what a restarted attempt finds (the cache)

Each is timed from the command's start to its first step's log line (bench/gpu/steplog.py).
Then one probe per tool (in-process, the tool's own code with library calls timed) splits
that into interpreter start, imports, dataset loading, model loading, dataset preparation
(SFTTrainer's tokenizing and packing), the first step, and the rest. Ratios are ours over
trl sft, medians, from the same run. Writes bench/results/trainer_startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "gpu"))

from steplog import first_step_s, run_stamped  # noqa: E402

RESULT = ROOT / "bench" / "results" / "trainer_startup.json"
DATASETS_CACHE_IN_STORAGE = ".cache/huggingface/datasets"  # api/paths.DATASETS_CACHE's tail
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
PROBE_MARK = "STARTUP-PROBE "


def trl_config(model: Path, data: Path, output_dir: Path) -> dict[str, Any]:
    return {
        "model_name_or_path": str(model),
        "dataset_name": str(data),
        "output_dir": str(output_dir),
        "max_steps": 3,
        "per_device_train_batch_size": 8,
        "max_length": 256,
        "packing": True,
        "logging_steps": 1,
        "save_strategy": "no",
        "use_cpu": True,
        "bf16": False,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        "seed": 0,
    }


def commands(config: Path, accel: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "trl sft": [py, "-m", "trl.cli.main", "sft", "--config", str(config)],
        "sftjob-train": [py, "-m", "sftjob_trainer", "--config", str(config)],
        "sftjob-train --accelerate-config": [
            py, "-m", "sftjob_trainer", "--config", str(config), "--accelerate-config", str(accel)
        ],
    }  # fmt: skip


def env_for(base: dict[str, str], storage: Path) -> dict[str, str]:
    return {**base, "HF_DATASETS_CACHE": str(storage / DATASETS_CACHE_IN_STORAGE)}


# --- the probe: one process, the tool's own code, library calls timed ---------------------


def probe(tool: str, config: str) -> None:
    """Run the tool in this process up to the end of its first step; print the phases."""
    started = time.time()
    t0 = time.perf_counter()
    import datasets
    import torch  # noqa: F401
    import transformers
    from transformers import PreTrainedModel, Trainer
    from trl import SFTTrainer

    if tool == "sftjob":
        import sftjob_trainer.train  # noqa: F401
    phases: dict[str, float] = defaultdict(float)
    phases["imports"] = time.perf_counter() - t0

    def timed(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[key] += time.perf_counter() - start

        return wrapper

    datasets.load_dataset = timed("dataset_load", datasets.load_dataset)
    load_model = timed("model_load", PreTrainedModel.from_pretrained.__func__)
    PreTrainedModel.from_pretrained = classmethod(load_model)  # type: ignore[assignment]
    SFTTrainer._prepare_dataset = timed("dataset_prepare", SFTTrainer._prepare_dataset)
    train, step = Trainer.train, Trainer.training_step
    marks: dict[str, float] = {}

    def train_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        marks["train"] = time.perf_counter()
        return train(self, *args, **kwargs)

    def step_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        step(self, *args, **kwargs)
        end = time.perf_counter()
        phases["first_step"] = end - marks["train"]
        phases["to_first_step_in_process"] = end - t0
        print(PROBE_MARK + json.dumps({"started": started, **phases}), flush=True)
        os._exit(0)

    Trainer.train = train_wrapper  # type: ignore[method-assign]
    Trainer.training_step = step_wrapper  # type: ignore[method-assign]
    del transformers
    if tool == "sftjob":
        from sftjob_trainer.train import run

        run(["--config", config])
    else:
        import runpy

        sys.argv = ["sft.py", "--config", config]
        runpy.run_module("trl.scripts.sft", run_name="__main__")


def run_probe(tool: str, config: Path, env: dict[str, str]) -> dict[str, float]:
    spawned = time.time()
    out = subprocess.run(
        [sys.executable, __file__, "--probe", tool, str(config)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith(PROBE_MARK)), None)
    if line is None:
        raise RuntimeError(f"probe {tool} printed no phases:\n{out.stderr[-3000:]}")
    phases = json.loads(line.removeprefix(PROBE_MARK))
    interpreter = phases.pop("started") - spawned
    total = interpreter + phases.pop("to_first_step_in_process")
    named = ("imports", "dataset_load", "model_load", "dataset_prepare", "first_step")
    result = {"interpreter_start": interpreter, **{k: phases.get(k, 0.0) for k in named}}
    result["other"] = total - sum(result.values())  # parsing, tokenizer, trainer setup
    result["total"] = total
    return {k: round(v, 3) for k, v in result.items()}


# --- the end-to-end runs ------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import platform

    import torch
    import transformers
    import trl

    cpu = platform.processor()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "trl": trl.__version__, "device": "cpu"}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument("--probe", nargs=2, metavar=("TOOL", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(*args.probe)
        return 1  # not reached: the probe exits after the first step

    from sftjob_trainer.tinymodel import build
    from smoke import write_dataset

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sftjob-startup-") as tmp:
        work = Path(tmp)
        assets = build(work / "tiny")
        write_dataset(work / "data", rows=args.rows)
        accel = work / "accelerate.yaml"
        accel.write_text(yaml.safe_dump(ACCELERATE_WORLD_SIZE_1))
        base_env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                    "HF_HOME": str(work / "hf-home"), "OMP_NUM_THREADS": "1",
                    "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
        names = [*commands(work, accel), "sftjob-train --accelerate-config restart"]
        results: dict[str, list[float]] = {name: [] for name in names}
        for i in range(args.runs):
            for name in names[:-1]:
                storage = work / f"storage-{name.replace(' ', '_')}-{i}"
                config = storage / "trl.yaml"
                storage.mkdir(parents=True)
                config.write_text(
                    yaml.safe_dump(trl_config(assets.model, work / "data", storage / "out"))
                )
                runs = [name] + ([names[-1]] if name == names[-2] else [])
                for label in runs:  # the pods' path twice: the second finds the cache
                    cmd = commands(config, accel)[name]
                    run = run_stamped(
                        cmd, env_for(base_env, storage), storage / label.split()[-1], 600
                    )
                    if run.exit_code != 0:
                        err = (storage / label.split()[-1] / "stderr.log").read_text()[-3000:]
                        raise RuntimeError(f"{label} exited {run.exit_code}:\n{err}")
                    results[label].append(first_step_s(run.stamped) or float("nan"))
                    print(f"run {i + 1}/{args.runs} {label}: {results[label][-1]} s", flush=True)

        storage = work / "probe"
        storage.mkdir()
        config = storage / "trl.yaml"
        config.write_text(yaml.safe_dump(trl_config(assets.model, work / "data", storage / "out")))
        phases = {
            tool: run_probe(tool, config, env_for(base_env, storage / tool))
            for tool in ("trl", "sftjob")
        }

    medians = {name: round(statistics.median(v), 2) for name, v in results.items()}
    trl = medians["trl sft"]
    report = {
        "benchmark": "trainer_startup",
        "description": __doc__.split("\n\n")[2].replace("\n", " "),
        "runs_each": args.runs,
        "rows": args.rows,
        "config": trl_config(Path("tiny/model"), Path("data"), Path("out")),
        # A shared machine: the 1-minute load average before and after, against its CPUs.
        "machine": {**machine(), "loadavg_1m": [load_before[0], os.getloadavg()[0]]},
        "time_to_first_step_s_median": medians,
        "ratios_over_trl_sft": {k: round(v / trl, 3) for k, v in medians.items() if k != "trl sft"},
        "restart_over_first_start": round(
            medians["sftjob-train --accelerate-config restart"]
            / medians["sftjob-train --accelerate-config"],
            3,
        ),
        "phases_s": phases,
        "runs_s": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("time_to_first_step_s_median", "ratios_over_trl_sft",
                                               "restart_over_first_start", "phases_s")}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
