"""GPU smoke test of the trainer image's entrypoint on one local GPU, fully offline.

Builds a ~0.5B Qwen2 (Qwen2-0.5B's shape) from its config with random weights, a
ByteLevel tokenizer trained on the spot and a synthetic text dataset, then runs
`python -m sftjob_trainer` (the pods' entrypoint, launcher included) for:

    bf16_full        bf16, packing, no DeepSpeed        tokens/s and MFU
    deepspeed_zero2  accelerate DEEPSPEED + tests/data/deepspeed/zero2.json
    deepspeed_zero3  accelerate DEEPSPEED + tests/data/deepspeed/zero3.json
    lora             use_peft (all linear layers), bf16, packing
    qlora_4bit       load_in_4bit (nf4) + use_peft

A scenario whose package is missing (deepspeed, bitsandbytes) is reported as skipped.
Writes smoke.json to --out (default: $OUT or bench/results) and exits 1 if any scenario
that could run failed. Sized for < 5 minutes on an H100.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from steplog import steady_tokens_per_s

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 150

# bf16 dense peak (no sparsity), by device name.
PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}

# The model shapes of the GPU benchmarks (random weights), by Qwen2 size: the one table.
QWEN2_SHAPES: dict[str, dict[str, Any]] = {
    "0.5b": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
    ),
    "1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=32768,
        rope_theta=1000000.0,
        tie_word_embeddings=True,
    ),
}
QWEN2_05B = QWEN2_SHAPES["0.5b"]


@dataclass
class Scenario:
    name: str
    max_steps: int
    trl: dict[str, Any] = field(default_factory=dict)
    deepspeed_stage: int | None = None
    requires: tuple[str, ...] = ()
    mfu: bool = False


SCENARIOS = [
    Scenario("bf16_full", 20, mfu=True),
    Scenario("deepspeed_zero2", 8, deepspeed_stage=2, requires=("deepspeed",), mfu=True),
    Scenario("deepspeed_zero3", 8, deepspeed_stage=3, requires=("deepspeed",), mfu=True),
    Scenario(
        "lora",
        10,
        trl={"use_peft": True, "lora_r": 16, "lora_alpha": 32, "lora_target_modules": "all-linear"},
        requires=("peft",),
    ),
    Scenario(
        "qlora_4bit",
        10,
        trl={
            "load_in_4bit": True,
            "bnb_4bit_quant_type": "nf4",
            "use_bnb_nested_quant": True,
            "use_peft": True,
            "lora_r": 16,
            "lora_alpha": 32,
            "lora_target_modules": "all-linear",
        },
        requires=("bitsandbytes", "peft"),
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_model(
    model_dir: Path, shape: dict[str, Any] = QWEN2_05B, device: str = "cuda"
) -> dict[str, Any]:
    """A Qwen2 of `shape` with random weights in bf16 and the tiny offline tokenizer."""
    import torch
    from sftjob_trainer.tinymodel import build_tokenizer
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tokenizer()
    config = Qwen2Config(
        **shape,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="bfloat16",
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {"parameters": params, "config": shape}


def write_dataset(data_dir: Path, rows: int = 3000) -> None:
    from sftjob_trainer.tinymodel import sentences

    rng = random.Random(0)
    corpus = sentences()
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "train.jsonl").open("w") as fh:
        for _ in range(rows):
            text = " ".join(rng.choice(corpus) for _ in range(rng.randint(20, 80)))
            fh.write(json.dumps({"text": text}) + "\n")


def trl_config(model: Path, data: Path, out: Path, scenario: Scenario) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model_name_or_path": str(model),
        "dataset_name": str(data),
        "output_dir": str(out),
        "max_steps": scenario.max_steps,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "learning_rate": 2.0e-5,
        "max_length": 2048,
        "packing": True,
        "bf16": True,
        "dtype": "bfloat16",
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "dataloader_num_workers": 2,
        "disable_tqdm": True,
        "seed": 0,
    }
    config.update(scenario.trl)
    return config


def accelerate_files(sdir: Path, stage: int, trl: dict[str, Any]) -> Path:
    """accelerate.yaml and deepspeed.json exactly as the operator renders them for a
    1-node, 1-GPU DeepSpeed job, with the ConfigMap's mount path replaced by sdir."""
    from sftjob_operator.render.launch import accelerate_config, deepspeed_config
    from sftjob_operator.render.plan import Plan

    plan = Plan(
        nodes=1, gpus_per_node=1, strategy=f"deepspeed-zero{stage}", image="", suspend=False
    )
    ds_json = sdir / "deepspeed.json"
    ds_json.write_text(json.dumps(deepspeed_config(stage), indent=2))
    config = accelerate_config(plan, trl)
    config["deepspeed_config"]["deepspeed_config_file"] = str(ds_json)
    accel = sdir / "accelerate.yaml"
    accel.write_text(yaml.safe_dump(config))
    return accel


def pod_env(sdir: Path, progress: Path) -> dict[str, str]:
    """The environment of one single-GPU pod, offline, reporting progress into a file."""
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "trainer_image"), os.environ.get("PYTHONPATH", "")]
        ),
        "SFTJOB_PROGRESS_FILE": str(progress),
        "SFTJOB_PROGRESS_INTERVAL": "0",
        "SFTJOB_TERMINATION_LOG": str(sdir / "termination-log"),
        "JOB_COMPLETION_INDEX": "0",
        "SFTJOB_NUM_NODES": "1",
        "SFTJOB_GPUS_PER_NODE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }


def run_scenario(scenario: Scenario, work: Path, model: Path, data: Path) -> dict[str, Any]:
    missing = [m for m in scenario.requires if importlib.util.find_spec(m) is None]
    if missing:
        return {"status": "skipped", "reason": f"not installed: {', '.join(missing)}"}
    sdir = work / scenario.name
    sdir.mkdir(parents=True)
    trl_yaml = sdir / "trl.yaml"
    trl = trl_config(model, data, sdir / "out", scenario)
    trl_yaml.write_text(yaml.safe_dump(trl))
    cmd = [sys.executable, "-m", "sftjob_trainer", "--config", str(trl_yaml)]
    if scenario.deepspeed_stage:
        accel = accelerate_files(sdir, scenario.deepspeed_stage, trl)
        cmd += ["--accelerate-config", str(accel)]
    progress = sdir / "progress.jsonl"
    env = pod_env(sdir, progress)
    start = time.perf_counter()
    stamped: list[tuple[float, str]] = []  # (arrival time, stdout line)
    with (sdir / "stdout.log").open("w") as out, (sdir / "stderr.log").open("w") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        watchdog = threading.Timer(RUN_TIMEOUT_S, proc.kill)
        watchdog.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            stamped.append((time.perf_counter(), line))
            out.write(line)
        code = proc.wait()
        watchdog.cancel()
    wall = time.perf_counter() - start
    result: dict[str, Any] = {"wall_s": round(wall, 1), "exit_code": code}
    records = (
        [json.loads(x) for x in progress.read_text().splitlines()] if progress.exists() else []
    )
    final = next((r for r in reversed(records) if r.get("final")), None)
    if code != 0 or final is None:
        reason_file = sdir / "termination-log"
        reason = reason_file.read_text().strip() if reason_file.exists() else ""
        tail = (sdir / "stderr.log").read_text()[-2000:]
        result.update(status="failed", reason=reason or f"exit {code}", stderr_tail=tail)
        return result
    result.update(
        status="ok",
        steps=final["step"],
        loss=final["loss"],
        tokens_per_s=final["tokens_per_second"],
        tokens_per_s_steady=steady_tokens_per_s(stamped),
    )
    return result


def write_report(
    out: Path,
    device: str,
    peak: float | None,
    model_info: dict[str, Any],
    started: float,
    results: dict[str, Any],
) -> None:
    """smoke.json, rewritten after every scenario so a run cut short still reports."""
    import torch
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    for pkg in ("trl", "peft", "accelerate", "datasets", "deepspeed", "bitsandbytes"):
        try:
            versions[pkg] = __import__(pkg).__version__
        except Exception:
            versions[pkg] = None
    report = {
        "benchmark": "gpu_smoke",
        "device": device,
        "peak_bf16_flops": peak,
        "model": model_info,
        "versions": versions,
        "total_wall_s": round(time.perf_counter() - started, 1),
        "scenarios": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "smoke.json").write_text(json.dumps(report, indent=2) + "\n")


def peak_flops() -> tuple[str, float | None]:
    import torch

    name = torch.cuda.get_device_name(0)
    if os.environ.get("SMOKE_PEAK_TFLOPS"):
        return name, float(os.environ["SMOKE_PEAK_TFLOPS"]) * 1e12
    return name, next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def main() -> int:
    parser = argparse.ArgumentParser(description="GPU smoke test of sftjob-train")
    default_out = Path(os.environ["OUT"]) if os.environ.get("OUT") else ROOT / "bench" / "results"
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sftjob-gpu-smoke"))
    parser.add_argument("--budget-s", type=float, default=270.0)
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    model_dir, data_dir = args.work / "model", args.work / "data"
    model_info = build_model(model_dir)
    write_dataset(data_dir)
    device, peak = peak_flops()
    print(f"model ready: {model_info['parameters'] / 1e6:.0f}M parameters on {device}", flush=True)

    results: dict[str, Any] = {}
    for scenario in SCENARIOS:
        if args.only and scenario.name not in args.only:
            continue
        if time.perf_counter() - started > args.budget_s:
            results[scenario.name] = {"status": "skipped", "reason": "time budget spent"}
            continue
        result = run_scenario(scenario, args.work, model_dir, data_dir)
        steady = result.get("tokens_per_s_steady")
        if result["status"] == "ok" and scenario.mfu and peak and steady:
            # 6 * N flops per token (forward + backward); attention score flops left out,
            # so this understates MFU slightly. Steady state: loading and warm-up left out.
            result["mfu"] = round(6 * model_info["parameters"] * steady / peak, 4)
        results[scenario.name] = result
        print(f"{scenario.name}: {json.dumps(result)[:400]}", flush=True)
        write_report(args.out, device, peak, model_info, started, results)

    print(json.dumps({k: v.get("status") for k, v in results.items()}))
    return 1 if any(r["status"] == "failed" for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
