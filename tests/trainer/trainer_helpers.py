"""Helpers for trainer tests: trl.yaml writers and a pod-like runner.

Every training run goes through the real `sftjob-train` entrypoint in a subprocess with
the environment an operator pod gets, and HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Generous hang guards, not performance assertions.
RUN_TIMEOUT_S = 240


def base_config(tiny: Any, output_dir: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "model_name_or_path": str(tiny.model),
        "dataset_name": str(tiny.text_data),
        "output_dir": str(output_dir),
        "max_steps": 12,
        "per_device_train_batch_size": 4,
        "learning_rate": 0.005,
        "lr_scheduler_type": "constant",
        "logging_steps": 1,
        "save_strategy": "no",
        "max_length": 64,
        "use_cpu": True,
        "bf16": False,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
        "seed": 0,
    }
    config.update(overrides)
    return config


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def accelerate_config(num_machines: int, num_processes: int) -> dict[str, Any]:
    """What the operator renders for a CPU job (gpusPerNode 0)."""
    return {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": "MULTI_CPU" if num_processes > 1 else "NO",
        "num_machines": num_machines,
        "num_processes": num_processes,
        "machine_rank": 0,
        "main_process_port": 29500,
        "mixed_precision": "no",
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": True,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    progress_file: Path

    def progress(self) -> list[dict[str, Any]]:
        if not self.progress_file.exists():
            return []
        return [json.loads(line) for line in self.progress_file.read_text().splitlines()]

    def finished_steps(self) -> dict[int, int]:
        """rank -> final global step, from each rank's `finished at step` line."""
        return {
            int(rank): int(step)
            for rank, step in re.findall(r"rank (\d+)/\d+ finished at step (\d+)\n", self.stderr)
        }


def pod_env(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFTJOB_", "MASTER_"))}
    env.pop("JOB_COMPLETION_INDEX", None)
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(workdir / "hf-home"),
            "SFTJOB_PROGRESS_FILE": str(workdir / "progress.jsonl"),
            "SFTJOB_PROGRESS_INTERVAL": "0",
            "SFTJOB_TERMINATION_LOG": str(workdir / "termination-log"),
            "OMP_NUM_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def train_command(config: Path, accelerate: Path | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "sftjob_trainer", "--config", str(config)]
    if accelerate is not None:
        cmd += ["--accelerate-config", str(accelerate)]
    return cmd


def start(cmd: list[str], env: dict[str, str], log_dir: Path, name: str) -> subprocess.Popen[str]:
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.out", "w") as out, open(log_dir / f"{name}.err", "w") as err:
        return subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,  # a process group we can kill as a whole, like a pod
        )


def finish(proc: subprocess.Popen[str], log_dir: Path, name: str, env: dict[str, str]) -> Run:
    try:
        proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise AssertionError(
            f"{name} did not exit within {RUN_TIMEOUT_S}s; stderr tail:\n"
            + (log_dir / f"{name}.err").read_text()[-3000:]
        ) from None
    return Run(
        proc.returncode,
        (log_dir / f"{name}.out").read_text(),
        (log_dir / f"{name}.err").read_text(),
        Path(env["SFTJOB_PROGRESS_FILE"]),
    )


def kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


Pod = tuple[subprocess.Popen[str], Path, dict[str, str]]


def start_node_pods(config: Path, accelerate: Path, workdir: Path, nodes: int = 2) -> list[Pod]:
    """One "pod" per node (CPU, gloo), all rendezvousing on a free localhost port:
    (process, its directory, its environment)."""
    port = str(free_port())
    pods = []
    for index in range(nodes):
        pod_dir = workdir / f"pod-{index}"
        env = pod_env(
            pod_dir,
            JOB_COMPLETION_INDEX=str(index),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            SFTJOB_NUM_NODES=str(nodes),
            SFTJOB_GPUS_PER_NODE="0",
        )
        pods.append(
            (start(train_command(config, accelerate), env, pod_dir, "trainer"), pod_dir, env)
        )
    return pods


def run_trainer(config: Path, workdir: Path, accelerate: Path | None = None, **env: str) -> Run:
    full_env = pod_env(workdir, **env)
    proc = start(train_command(config, accelerate), full_env, workdir / "logs", "trainer")
    return finish(proc, workdir / "logs", "trainer", full_env)
