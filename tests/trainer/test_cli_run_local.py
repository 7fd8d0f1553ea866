"""`sftjob run --local`: examples/tiny-cpu.yaml trained on this machine with the demo's
assets, killed with SIGKILL after its first checkpoint, then run again: it resumes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.trainer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tiny-cpu.yaml"
SFTJOB = str(Path(sys.executable).with_name("sftjob"))
TIMEOUT_S = 400  # a hang guard on a shared 2-core machine


def short_example(tmp_path: Path) -> Path:
    """The example with fewer steps (the whole example takes minutes here)."""
    job = yaml.safe_load(EXAMPLE.read_text())
    job["spec"]["sftConfig"].update(max_steps=200, save_steps=20, logging_steps=5)
    path = tmp_path / "tiny-cpu.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def command(job: Path, output: Path, assets: Path) -> list[str]:
    return [SFTJOB, "run", str(job), "--local", "--output", str(output),
            "--mount", f"/var/lib/sftjob-demo={assets}"]  # fmt: skip


def wait_for_checkpoint(output: Path, proc: subprocess.Popen[Any], log: Path) -> None:
    """A complete checkpoint, and the progress bar's first line."""
    deadline = time.monotonic() + TIMEOUT_S
    while not (
        any((c / "trainer_state.json").exists() for c in output.glob("checkpoint-*"))
        and "started at step 0 of 200" in log.read_text()
    ):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.5)


def test_run_local_resumes_after_sigkill(tiny: Any, tmp_path: Path) -> None:
    job, output, log = short_example(tmp_path), tmp_path / "out", tmp_path / "first.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log.open("wb") as out:
        first = subprocess.Popen(
            command(job, output, tiny.root), stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,  # its own process group: the CLI and the trainer
        )  # fmt: skip
    try:
        wait_for_checkpoint(output, first, log)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # as a crash: no cleanup anywhere
        first.wait(timeout=60)
    assert not (output / "model.safetensors").exists()

    second = subprocess.run(
        command(job, output, tiny.root), capture_output=True, text=True, env=env,
        timeout=TIMEOUT_S,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    resumed = re.search(r"resumed from step (\d+) \(checkpoint-(\d+)\) of 200", second.stderr)
    assert resumed, second.stderr[-3000:]
    step = int(resumed.group(1))
    assert step >= 20 and step % 20 == 0 and resumed.group(2) == str(step)  # a saved checkpoint
    assert "done at step 200" in second.stderr
    assert "step 200/200" in second.stderr  # the progress lines
    assert (output / "model.safetensors").is_file()
