"""GPU throughput: bare `trl sft`, `sftjob-train` with the operator's configs, and the fast path.

    python bench/gpu/throughput.py [--shapes 1.5b 0.5b] [--rounds 2] [--budget-s 500] [--out DIR]
    python bench/gpu/throughput.py --cpu-check [--out DIR]     # same logic, tiny model, CPU

On one GPU, in one run, for each model shape (Qwen2-shaped, random weights, from smoke.py's
table) and the same synthetic JSONL data:

    trl_sft       `python -m trl.cli.main sft --config trl.yaml`: TRL's own script under
                  accelerate launch (what `trl sft` runs), with the trl.yaml below
    sftjob_train  the pods' command (`sftjob-train --config --accelerate-config`) with the
                  ConfigMap files and pod environment the operator renders for the SFTJob
                  below (normalize() + render_children(), paths mapped as `sftjob run
                  --local` maps them); the same spec gives trl_sft its trl.yaml
    fast_*        the same SFTJob plus the fast settings (Liger, padding-free packing,
                  flash-attention where installed else sdpa, no gradient checkpointing
                  unless memory needs it, a batch sized to fill the GPU), rendered and run
                  the same way; `fast` names the best of them

The SFTJob is what a user writes for one GPU: bf16, packing, max_length 2048, a batch of
4 (TRL's other defaults, so gradient checkpointing on). --rounds 2 runs trl_sft and
sftjob_train twice, in the order A B B A (the next shape B A A B): the first training
process of a shape on a machine stalls in its first steps. Reported per scenario: steady
tokens/s, the per-step times (a stall shows there) and the time to the first step, all
from Trainer's per-step log lines as they arrive (steplog.py), MFU = 6 x parameters x
steady tokens/s / the GPU's dense bf16 peak (attention flops left out, the same for all),
and peak memory (nvidia-smi's memory.used, polled; ru_maxrss on CPU). Then, while the budget allows, the best fast scenario runs a few
steps under torch.profiler: profile_<shape>.txt, the operators and kernels by device time,
says where the time goes. Writes gpu_throughput.json to --out ($OUT, else --work): one run's
report, to keep in bench/results/gpu_throughput/ (throughput_report.py pools them);
--cpu-check writes throughput_cpu_check.json (default under --work), never a GPU result.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (HERE, ROOT / "operator", ROOT / "trainer_image", ROOT / "cli"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sftjob_cli import localpaths  # noqa: E402
from sftjob_operator.api.normalize import normalize  # noqa: E402
from sftjob_operator.render import render_children  # noqa: E402
from smoke import QWEN2_SHAPES, build_model, free_port, peak_flops, write_dataset  # noqa: E402
from steplog import (  # noqa: E402
    Run,
    first_step_s,
    run_stamped,
    steady_tokens_per_s,
    step_times_s,
)

ASSETS_MOUNT = "/var/lib/sftjob-bench"  # the podTemplate volume holding model/ and data/
TINY_SHAPE = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
    max_position_embeddings=512,
    tie_word_embeddings=True,
)
SFTJOB_OVER_TRL_TARGET = 0.98
FAST_MFU_TARGET = 0.40
PACKAGES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "tokenizers",
    "liger-kernel",
    "flash-attn",
    "triton",
)
OOM = re.compile(r"OutOfMemoryError|CUDA out of memory|CUBLAS_STATUS_ALLOC_FAILED")


@dataclass(frozen=True)
class Sizes:
    max_length: int
    batch: int  # the user's per_device_train_batch_size
    steps: int
    skip: int  # steps left out of the steady state
    rows: int  # dataset rows
    timeout_s: float
    min_start_s: float  # no scenario starts with less of the budget left: it could not finish


# About 360 tokens a row: 4000 rows hold 14 steps of a 32-row filled batch.
GPU_SIZES = Sizes(
    max_length=2048, batch=4, steps=14, skip=4, rows=4000, timeout_s=240, min_start_s=60
)
CPU_SIZES = Sizes(
    max_length=128, batch=2, steps=12, skip=2, rows=300, timeout_s=300, min_start_s=30
)
PAIR = ("trl_sft", "sftjob_train")  # the same config under both tools: sftjob_over_trl


@dataclass(frozen=True)
class Scenario:
    name: str
    tool: str  # "trl" or "sftjob"
    sft: Mapping[str, Any] = field(default_factory=dict)  # sftConfig on top of the user's
    model: Mapping[str, Any] = field(default_factory=dict)  # modelConfig on top
    requires: tuple[str, ...] = ()
    fill: bool = False  # size the batch to fill the GPU (fast path)
    gpu_only: str = ""  # why it cannot run on CPU, where it cannot
    note: str = ""


FAST = {"use_liger_kernel": True, "gradient_checkpointing": False, "padding_free": True}


def schedule(scenarios: list[Scenario], rounds: int, first_round: int = 0) -> list[Scenario]:
    """The PAIR in each round, in reverse order every other round (A B, B A, ...), so
    that neither tool always runs first; then the others, once. The next shape starts at
    the next round's order (first_round)."""
    pair = [s for s in scenarios if s.name in PAIR]
    order = [
        s
        for r in range(first_round, first_round + rounds)
        for s in (pair if r % 2 == 0 else pair[::-1])
    ]
    return order + [s for s in scenarios if s.name not in PAIR]


# What one run of a scenario measured; with rounds, each round keeps its own.
ROUND_KEYS = (
    "status",
    "reason",
    "exit_code",
    "wall_s",
    "tokens_per_s",
    "time_to_first_step_s",
    "peak_memory_mib",
    "step_times_s",
    "stderr_tail",
)


def merge_round(first: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    """A scenario's result over its rounds: each round's own figures in `rounds`; on top,
    what they share (settings, trl_yaml, ...), the status "ok" if one round finished, and
    tokens_per_s the mean of the rounds that finished."""

    def figures(result: Mapping[str, Any]) -> dict[str, Any]:
        return {k: result[k] for k in ROUND_KEYS if k in result}

    rounds = [*first.get("rounds", [figures(first)]), figures(later)]
    shared = {k: v for k, v in {**later, **first}.items() if k not in ROUND_KEYS}
    done = [r["tokens_per_s"] for r in rounds if r.get("tokens_per_s")]
    return {
        **shared,
        "status": "ok" if done else rounds[0]["status"],
        "tokens_per_s": round(sum(done) / len(done), 1) if done else None,
        "rounds": rounds,
    }


def scenarios(sizes: Sizes, gpu: bool) -> list[Scenario]:
    """The scenarios of one shape, baseline first. Liger's kernels are Triton, CUDA only."""
    fast = dict(FAST) if gpu else {k: v for k, v in FAST.items() if k != "use_liger_kernel"}
    needs = ("liger_kernel",) if gpu else ()
    return [
        Scenario("trl_sft", "trl"),
        Scenario("sftjob_train", "sftjob"),
        Scenario(
            "fast_flash",
            "sftjob",
            fast,
            {"attn_implementation": "flash_attention_2"},
            requires=("flash_attn", *needs),
            fill=True,
            note="padding-free over the whole batch: flash-attention's varlen kernels",
        ),
        Scenario(
            "fast_flex",
            "sftjob",
            fast,
            {"attn_implementation": "flex_attention"},
            requires=needs,
            fill=True,
            gpu_only="PyTorch has no backward for flex attention on CPU",
            note="padding-free with PyTorch's flex attention: a block mask that skips the "
            "blocks across documents, compiled with Triton on GPU (no flash-attn needed)",
        ),
        Scenario(
            "fast_sdpa",
            "sftjob",
            {**fast, "per_device_train_batch_size": 1, "max_length": 2 * sizes.max_length},
            {"attn_implementation": "sdpa"},
            requires=needs,
            note="sdpa with padding-free attends through a block-diagonal mask over the "
            "flattened batch, at a cost that grows with its square: one row per step",
        ),
        Scenario(
            "fast_sdpa_wrapped",
            "sftjob",
            {**fast, "padding_free": False, "packing_strategy": "wrapped"},
            {"attn_implementation": "sdpa"},
            requires=needs,
            fill=True,
            note="rows of max_length with no mask (sdpa's flash kernel); documents attend "
            "across their boundaries, as in pretraining: measured, not recommended",
        ),
    ]


# --- the SFTJob and what the operator renders for it ------------------------------------


def sftjob(sizes: Sizes, scenario: Scenario, gpu: bool) -> dict[str, Any]:
    """The SFTJob a user writes for one GPU, plus the scenario's settings."""
    sft: dict[str, Any] = {
        "max_steps": sizes.steps,
        "per_device_train_batch_size": sizes.batch,
        "max_length": sizes.max_length,
        "packing": True,
        "bf16": True,
        "learning_rate": 2.0e-5,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_num_workers": 2 if gpu else 0,
        "seed": 0,
    }
    sft.update(scenario.sft)
    return {
        "apiVersion": "sftjob.dev/v1alpha1",
        "kind": "SFTJob",
        "metadata": {
            "name": f"bench-{scenario.name.replace('_', '-')}",
            "namespace": "bench",
            "uid": "00000000-0000-0000-0000-000000000000",
        },
        "spec": {
            "nodes": 1,
            "gpusPerNode": 1,
            "podTemplate": {
                "volumes": [{"name": "assets", "persistentVolumeClaim": {"claimName": "bench"}}],
                "volumeMounts": [{"name": "assets", "mountPath": ASSETS_MOUNT}],
            },
            "scriptArgs": {"dataset_name": f"{ASSETS_MOUNT}/data"},
            "modelConfig": {
                "model_name_or_path": f"{ASSETS_MOUNT}/model",
                "dtype": "bfloat16",
                **scenario.model,
            },
            "sftConfig": sft,
        },
    }


def rendered(body: Mapping[str, Any]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The ConfigMap's files and the trainer container's env, as the operator renders them."""
    normalized = normalize(body["spec"])
    children = render_children(body, normalized.trl_config, extensions=normalized.extensions)
    by_kind = {child["kind"]: child for child in children}
    container = by_kind["Job"]["spec"]["template"]["spec"]["containers"][0]
    return dict(by_kind["ConfigMap"]["data"]), list(container.get("env") or ())


@dataclass(frozen=True)
class Prepared:
    cmd: list[str]
    env: dict[str, str]
    trl: dict[str, Any]


def prepare(body: Mapping[str, Any], tool: str, sdir: Path, assets: Path, gpu: bool) -> Prepared:
    """The scenario's files in sdir (config/, output/) and its command, as `run --local`
    maps a pod onto this machine: the same files and environment for both tools."""
    data, pod_env = rendered(body)
    paths = localpaths.PathMap.build(sdir / "config", sdir / "output", {ASSETS_MOUNT: assets})
    files, _ = localpaths.config_files(data, paths, cpu=not gpu, processes=1)
    (sdir / "config").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (sdir / "config" / name).write_text(text)
    topology = localpaths.topology(1, 1 if gpu else 0, free_port())
    topology |= {
        "SFTJOB_PROGRESS_FILE": str(sdir / "progress.jsonl"),
        "SFTJOB_TERMINATION_LOG": str(sdir / "termination-log"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env, _ = localpaths.environment(pod_env, paths, os.environ, topology)
    trl_yaml = str(sdir / "config" / "trl.yaml")
    if tool == "trl":
        cmd = [sys.executable, "-m", "trl.cli.main", "sft", "--config", trl_yaml]
    else:  # the pods' command; `python -m sftjob_trainer` is `sftjob-train`
        argv = localpaths.launch_argv(paths)
        cmd = [sys.executable, "-m", "sftjob_trainer", *argv[1:]]
    return Prepared(cmd, env, yaml.safe_load(files["trl.yaml"]))


# --- measuring ------------------------------------------------------------------------


class GpuMemoryPoll:
    """The device's largest memory.used while a command runs (nvidia-smi, every 0.5 s)."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        query = [
            "nvidia-smi",
            "--query-gpu=memory.used",
            "--format=csv,noheader,nounits",
            "-i",
            "0",
        ]
        while not self._stop.is_set():
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
                self.peak_mib = max(self.peak_mib, float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                pass
            self._stop.wait(0.5)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mib


def mfu(parameters: int, tokens_per_s: float | None, peak: float | None) -> float | None:
    """6 x N flops per token (forward + backward), attention left out: the same for all."""
    if not tokens_per_s or not peak:
        return None
    return round(6 * parameters * tokens_per_s / peak, 4)


def measure(
    prepared: Prepared, sdir: Path, sizes: Sizes, gpu: bool, timeout_s: float
) -> dict[str, Any]:
    poll = GpuMemoryPoll() if gpu else None
    run: Run = run_stamped(
        prepared.cmd, prepared.env, sdir, timeout_s, poll.start if poll else None
    )
    peak_gpu = poll.stop() if poll else None
    stderr = (sdir / "stderr.log").read_text(errors="replace")
    result: dict[str, Any] = {"exit_code": run.exit_code, "wall_s": run.wall_s}
    tokens = steady_tokens_per_s(run.stamped, sizes.skip)
    if run.timed_out:
        result.update(status="timeout", reason=f"stopped after {timeout_s:.0f} s")
        return result
    if run.exit_code != 0 or tokens is None:
        result.update(status="oom" if OOM.search(stderr) else "failed", stderr_tail=stderr[-2500:])
        return result
    result.update(
        status="ok",
        tokens_per_s=tokens,
        time_to_first_step_s=first_step_s(run.stamped),
        peak_memory_mib=peak_gpu if gpu else run.peak_rss_mib,
        memory_source="nvidia-smi memory.used (device)" if gpu else "ru_maxrss (process)",
        step_times_s=step_times_s(run.stamped),
    )
    return result


# --- filling the GPU ------------------------------------------------------------------


def tokens_to_fill(shape: Mapping[str, Any], parameters: int, memory_bytes: float) -> int:
    """Tokens per step that fill about 70% of what the weights, gradients and AdamW states
    (bf16: 8 bytes a parameter) leave, at the activations a Qwen2 layer keeps per token
    without gradient checkpointing (6 hidden + 4 intermediate values in bf16, +25%)."""
    per_token = (
        shape["num_hidden_layers"]
        * (6 * shape["hidden_size"] + 4 * shape["intermediate_size"])
        * 2
        * 1.25
    )
    free = memory_bytes - 8 * parameters
    return max(int(0.7 * free / per_token), 0)


def filled(scenario: Scenario, sizes: Sizes, tokens: int) -> Scenario:
    """The fast scenario with its batch sized to `tokens` per step: the user's batch
    doubled while it fits."""
    batch = sizes.batch
    while batch * 2 * sizes.max_length <= tokens:
        batch *= 2
    return replace(scenario, sft={**scenario.sft, "per_device_train_batch_size": batch})


def smaller(scenario: Scenario, sizes: Sizes) -> Scenario | None:
    """After an out-of-memory: half the tokens per step, then gradient checkpointing."""
    sft = dict(scenario.sft)
    if sft.get("per_device_train_batch_size", 1) > sizes.batch:
        sft["per_device_train_batch_size"] //= 2
        return replace(scenario, sft=sft)
    if not sft.get("gradient_checkpointing", True):
        return replace(scenario, sft={**sft, "gradient_checkpointing": True})
    return None


# --- where the time goes ----------------------------------------------------------------

PROFILE_WAIT, PROFILE_ACTIVE = 3, 3  # steps before the profiled ones, steps profiled


def profile_in_process(config: str, out: Path) -> None:
    """The trainer of `config` (sftjob_trainer.train's own build_trainer) for a few steps
    under torch.profiler; the operators and kernels by device time (CPU time on CPU)."""
    import torch
    from sftjob_trainer.mixture import read_settings
    from sftjob_trainer.train import build_trainer, parse
    from transformers import TrainerCallback

    script_args, training_args, model_args, dataset_args = parse(config, [])
    training_args.max_steps = PROFILE_WAIT + 1 + PROFILE_ACTIVE
    trainer = build_trainer(
        script_args, training_args, model_args, dataset_args, read_settings(config)
    )
    gpu = torch.cuda.is_available()
    activities = [torch.profiler.ProfilerActivity.CPU]
    if gpu:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    prof = torch.profiler.profile(
        activities=activities,
        schedule=torch.profiler.schedule(wait=PROFILE_WAIT, warmup=1, active=PROFILE_ACTIVE),
    )

    class Steps(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, *args: Any, **kwargs: Any) -> None:
            prof.start()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            prof.step()

        def on_train_end(self, *args: Any, **kwargs: Any) -> None:
            prof.stop()

    trainer.add_callback(Steps())
    trainer.train()
    sort = "cuda_time_total" if gpu else "cpu_time_total"
    table = prof.key_averages().table(sort_by=sort, row_limit=45, max_name_column_width=70)
    out.write_text(f"{PROFILE_ACTIVE} steps of {config}, sorted by {sort}\n{table}\n")


def profile(best: str, result: Mapping[str, Any], ctx: ShapeRun, out: Path) -> dict[str, Any]:
    """Profile the best fast scenario's settings in a process of its own."""
    settings = result["settings"]
    scenario = Scenario(best, "sftjob", settings["sftConfig"], settings["modelConfig"])
    sdir = ctx.work / f"profile-{best}"
    prepared = prepare(sftjob(ctx.sizes, scenario, ctx.gpu), "sftjob", sdir, ctx.assets, ctx.gpu)
    cmd = [sys.executable, __file__, "--profile-config", str(sdir / "config" / "trl.yaml"),
           "--profile-out", str(out)]  # fmt: skip
    timeout = min(ctx.sizes.timeout_s, ctx.budget.left())
    run = run_stamped(cmd, prepared.env, sdir, timeout)
    if run.exit_code != 0 or not out.exists():
        tail = (sdir / "stderr.log").read_text(errors="replace")[-1500:]
        return {"status": "failed", "exit_code": run.exit_code, "stderr_tail": tail}
    return {"status": "ok", "scenario": best, "file": out.name, "wall_s": run.wall_s}


# --- one shape ------------------------------------------------------------------------


@dataclass
class Budget:
    started: float
    seconds: float

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.started)


@dataclass(frozen=True)
class ShapeRun:
    sizes: Sizes
    work: Path  # this shape's scenario directories
    assets: Path  # model/ and data/
    gpu: bool
    budget: Budget


def run_shape(
    name: str,
    shape: Mapping[str, Any],
    ctx: ShapeRun,
    only: set[str] | None,
    profile_out: Path | None,
    rounds: int = 1,
    first_round: int = 0,
) -> dict[str, Any]:
    import torch

    sizes, gpu = ctx.sizes, ctx.gpu
    info = build_model(ctx.assets / "model", dict(shape), "cuda" if gpu else "cpu")
    write_dataset(ctx.assets / "data", rows=sizes.rows)
    memory = torch.cuda.get_device_properties(0).total_memory if gpu else 0
    _, peak = peak_flops() if gpu else ("cpu", None)
    results: dict[str, Any] = {}
    for scenario in schedule(scenarios(sizes, gpu), rounds, first_round):
        if only and scenario.name not in only:
            continue
        if scenario.gpu_only and not gpu:
            results[scenario.name] = {"status": "skipped", "reason": scenario.gpu_only}
            continue
        missing = [m for m in scenario.requires if importlib.util.find_spec(m) is None]
        if missing:
            results[scenario.name] = {
                "status": "skipped",
                "reason": f"not installed: {', '.join(missing)}",
            }
            continue
        if scenario.fill:
            tokens = (
                tokens_to_fill(shape, info["parameters"], memory) if gpu else 4 * sizes.max_length
            )
            scenario = filled(scenario, sizes, tokens)
        result = run_scenario(scenario, ctx)
        print(f"{name} {scenario.name}: {json.dumps(result)[:600]}", flush=True)
        if scenario.name in results:
            result = merge_round(results[scenario.name], result)
        result["mfu"] = mfu(info["parameters"], result.get("tokens_per_s"), peak)
        results[scenario.name] = result
    report = {
        "parameters": info["parameters"],
        "config": dict(shape),
        "scenarios": results,
        **summary(results),
    }
    best = report["fast"]
    if profile_out and best and ctx.budget.left() > 90:
        report["profile"] = profile(best, results[best], ctx, profile_out)
    return report


def run_scenario(scenario: Scenario, ctx: ShapeRun) -> dict[str, Any]:
    """Run it; after an out-of-memory, again with fewer tokens per step (fast path only)."""
    sizes, gpu, budget = ctx.sizes, ctx.gpu, ctx.budget
    tries: list[dict[str, Any]] = []
    current: Scenario | None = scenario
    while current is not None:
        if budget.left() < sizes.min_start_s:
            return {"status": "skipped", "reason": "time budget spent", "tries": tries}
        sdir = ctx.work / f"{scenario.name}-{len(tries)}"
        body = sftjob(sizes, current, gpu)
        prepared = prepare(body, current.tool, sdir, ctx.assets, gpu)
        result = measure(prepared, sdir, sizes, gpu, min(sizes.timeout_s, budget.left()))
        result["settings"] = {"sftConfig": dict(current.sft), "modelConfig": dict(current.model)}
        result["trl_yaml"] = {k: v for k, v in prepared.trl.items() if k != "output_dir"}
        if current.note:
            result["note"] = current.note
        if result["status"] != "oom" or not current.fill:
            return {**result, "tries": tries} if tries else result
        tries.append({"settings": result["settings"], "status": "oom"})
        current = smaller(current, sizes)
    return {"status": "oom", "tries": tries}


def summary(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """sftjob_over_trl (tokens/s) and the best fast scenario."""

    def tps(name: str) -> float | None:
        return results.get(name, {}).get("tokens_per_s")

    trl, ours = tps("trl_sft"), tps("sftjob_train")
    fast = [n for n in results if n.startswith("fast_") and tps(n)]
    best = max(fast, key=lambda n: tps(n) or 0.0) if fast else None
    return {
        "sftjob_over_trl": round(ours / trl, 4) if trl and ours else None,
        "fast": best,
        "fast_over_sftjob": round((tps(best) or 0) / ours, 3) if best and ours else None,
    }


# --- the report -----------------------------------------------------------------------


def pins() -> dict[str, str]:
    """The trainer stack as pyproject.toml's [trainer] extra pins it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for req in project["optional-dependencies"]["trainer"]:
        name, sep, version = req.partition("==")
        if sep:
            out[name.strip().lower()] = version.strip()
    return out


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def differs(ran: Mapping[str, str | None], pinned: Mapping[str, str]) -> dict[str, Any]:
    """The packages that ran at another version than pinned (torch's local tag ignored)."""
    return {
        pkg: {"pinned": pinned[pkg], "ran": ran[pkg]}
        for pkg in ran
        if pkg in pinned and (ran[pkg] or "").split("+")[0] != pinned[pkg]
    }


def acceptance(shapes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    ratios = [s["sftjob_over_trl"] for s in shapes.values() if s.get("sftjob_over_trl")]
    big = shapes.get("1.5b", {})
    fast = big.get("scenarios", {}).get(big.get("fast") or "", {})
    return {
        "sftjob_over_trl_target": SFTJOB_OVER_TRL_TARGET,
        "sftjob_over_trl_met": bool(ratios) and min(ratios) >= SFTJOB_OVER_TRL_TARGET,
        "fast_mfu_1.5b": fast.get("mfu"),
        "fast_mfu_target": FAST_MFU_TARGET,
        "fast_mfu_met": (fast.get("mfu") or 0) >= FAST_MFU_TARGET,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cpu-check", action="store_true", help="tiny model on CPU: the logic only"
    )
    parser.add_argument(
        "--shapes", nargs="*", default=["1.5b", "0.5b"], choices=sorted(QWEN2_SHAPES)
    )
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--budget-s", type=float, default=500.0)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of trl_sft and sftjob_train, order alternating"
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sftjob-gpu-throughput"))
    parser.add_argument("--no-profile", action="store_true", help="skip the fast path's profile")
    parser.add_argument("--profile-config", help=argparse.SUPPRESS)  # the profile's own process
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile_config:
        profile_in_process(args.profile_config, args.profile_out)
        return 0

    import torch

    gpu = torch.cuda.is_available() and not args.cpu_check
    if not gpu and not args.cpu_check:
        print("no CUDA device; run with --cpu-check to check the logic on CPU", file=sys.stderr)
        return 2
    started = time.perf_counter()
    budget = Budget(started, args.budget_s)
    sizes = GPU_SIZES if gpu else CPU_SIZES
    shapes = {s: QWEN2_SHAPES[s] for s in args.shapes} if gpu else {"tiny": TINY_SHAPE}
    device, peak = peak_flops() if gpu else ("cpu", None)
    args.work.mkdir(parents=True, exist_ok=True)
    default_out = Path(os.environ["OUT"]) if os.environ.get("OUT") and gpu else args.work
    out = args.out or default_out
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu_throughput.json" if gpu else "throughput_cpu_check.json"

    ran, pinned = versions(), pins()
    report: dict[str, Any] = {
        "benchmark": "gpu_throughput" if gpu else "throughput_cpu_check",
        "device": device,
        "peak_bf16_flops": peak,
        "mfu_formula": "6 x parameters x steady tokens/s / peak_bf16_flops (attention left out)",
        "versions": ran,
        "pinned": {k: pinned[k] for k in ran if k in pinned},
        "differs_from_pins": differs(ran, pinned),
        "sizes": sizes.__dict__,
        "rounds": args.rounds,
        "shapes": {},
    }
    for index, (shape_name, shape) in enumerate(shapes.items()):
        ctx = ShapeRun(sizes, args.work / shape_name, args.work / shape_name, gpu, budget)
        profile_out = None if args.no_profile else out / f"profile_{shape_name}.txt"
        report["shapes"][shape_name] = run_shape(
            shape_name,
            shape,
            ctx,
            set(args.only or ()) or None,
            profile_out,
            args.rounds,
            first_round=index,
        )
        report["mfu"] = {
            n: {k: v.get("mfu") for k, v in s["scenarios"].items()}
            for n, s in report["shapes"].items()
        }
        report["sftjob_over_trl"] = {n: s["sftjob_over_trl"] for n, s in report["shapes"].items()}
        report["acceptance"] = acceptance(report["shapes"])
        report["total_wall_s"] = round(time.perf_counter() - started, 1)
        (out / name).write_text(json.dumps(report, indent=2) + "\n")  # after every shape
    print(
        json.dumps({k: report.get(k) for k in ("device", "sftjob_over_trl", "mfu", "acceptance")})
    )
    failed = [
        s
        for shape in report["shapes"].values()
        for s in shape["scenarios"].values()
        if s["status"] in ("failed", "oom")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
