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
# The killed run's ranks get SIGTERM (parent_death): one step and a checkpoint, then gone.
ORPHAN_TIMEOUT_S = 120


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


def processes_using(path: Path) -> list[int]:
    """Live processes whose command line names path (the CLI, trainer and ranks all do)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue  # ended meanwhile
        if str(path) in text and state != "Z":
            found.append(int(cmdline.parent.name))
    return found


def wait_until_no_process_uses(path: Path) -> None:
    deadline = time.monotonic() + ORPHAN_TIMEOUT_S
    while left := processes_using(path):
        assert time.monotonic() < deadline, f"still training after the kill: pids {left}"
        time.sleep(0.5)


@pytest.mark.parametrize("killed", ["the CLI", "the CLI and its trainer"])
def test_run_local_resumes_after_sigkill(tiny: Any, tmp_path: Path, killed: str) -> None:
    """SIGKILL to the CLI alone (its trainer gets SIGTERM and passes it on), or to its
    process group (`accelerate launch`, in a group of its own, gets SIGTERM, and so do the
    ranks in turn): either way the ranks checkpoint and stop."""
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
        if killed == "the CLI":
            os.kill(first.pid, signal.SIGKILL)
        else:
            os.killpg(first.pid, signal.SIGKILL)  # as a crash: no cleanup anywhere
        first.wait(timeout=60)
    wait_until_no_process_uses(output)
    # They stopped with a checkpoint (an orphan used to train on to the end, into the
    # directory the second run trains in).
    assert not (output / "model.safetensors").exists()
    newest = max(int(c.name.split("-")[1]) for c in output.glob("checkpoint-*"))

    second = subprocess.run(
        command(job, output, tiny.root), capture_output=True, text=True, env=env,
        timeout=TIMEOUT_S,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr[-3000:]
    resumed = re.search(r"resumed from step (\d+) \(checkpoint-(\d+)\) of 200", second.stderr)
    assert resumed, second.stderr[-3000:]
    step = int(resumed.group(1))
    assert step == newest >= 20 and resumed.group(2) == str(step)  # the newest checkpoint
    assert "done at step 200" in second.stderr
    assert "step 200/200" in second.stderr  # the progress lines
    assert (output / "model.safetensors").is_file()
