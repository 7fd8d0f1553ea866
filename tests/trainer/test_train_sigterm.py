"""SIGTERM (preemption, eviction, a suspended Job) -> a checkpoint before exit, then resume.

The kubelet sends SIGTERM to the container's first process and SIGKILL after the grace
period. Here the trainer is signalled the same way mid-run with no periodic checkpoint
configured, so any checkpoint on disk is the one written for the signal.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sftjob_trainer.checkpoints import is_complete_checkpoint, newest_complete_checkpoint
from sftjob_trainer.preemption import EXIT_TERMINATED
from trainer_helpers import (
    RUN_TIMEOUT_S,
    accelerate_config,
    base_config,
    finish,
    kill_group,
    pod_env,
    run_trainer,
    start,
    start_node_pods,
    train_command,
    write_yaml,
)

pytestmark = pytest.mark.trainer

# Kubernetes' default terminationGracePeriodSeconds: the trainer must be done within it.
GRACE_S = 30
MAX_STEPS = 100_000  # never reached: the signal ends the first run


def _progress_step(progress_file: Path) -> int:
    """The newest step the trainer reported (-1: none yet)."""
    if not progress_file.exists():
        return -1
    steps = []
    for line in progress_file.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line being written
            steps.append(int(json.loads(line)["step"]))
    return max(steps, default=-1)


def test_sigterm_writes_a_checkpoint_within_the_grace_period_and_the_next_run_resumes(
    tiny: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, out, max_steps=MAX_STEPS))
    env = pod_env(tmp_path / "first")
    logs = tmp_path / "first" / "logs"
    proc = start(train_command(config), env, logs, "trainer")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while _progress_step(Path(env["SFTJOB_PROGRESS_FILE"])) < 3:
        assert proc.poll() is None, (logs / "trainer.err").read_text()[-3000:]
        assert time.monotonic() < deadline, "training never reached step 3"
        time.sleep(0.05)
    signalled_at = _progress_step(Path(env["SFTJOB_PROGRESS_FILE"]))
    proc.send_signal(signal.SIGTERM)  # the first process only, as the kubelet does
    sent = time.monotonic()
    try:
        proc.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        kill_group(proc)  # the kubelet's SIGKILL
        pytest.fail(f"the trainer did not exit within the {GRACE_S}s grace period")
    took = time.monotonic() - sent
    first = finish(proc, logs, "trainer", env)

    assert first.returncode == EXIT_TERMINATED, first.stderr[-3000:]
    saved = newest_complete_checkpoint(out)
    assert saved is not None and is_complete_checkpoint(saved), sorted(out.iterdir())
    step = int(saved.name.split("-")[1])
    assert signalled_at <= step < MAX_STEPS
    # Why it stopped, in the termination message the operator shows in status.
    reason = (tmp_path / "first" / "termination-log").read_text()
    assert f"stopped by SIGTERM; {saved.name} saved (step {step} of {MAX_STEPS})" in reason
    # Cut short, so no final model: only the checkpoint.
    assert not (out / "model.safetensors").exists()
    assert first.progress()[-1]["last_checkpoint"] == saved.name
    print(f"\nSIGTERM at step {signalled_at}: {saved.name} written, exited in {took:.1f}s")

    # The next attempt (same config, as the operator restarts it) resumes from it; a few
    # more steps are enough to show that.
    config = write_yaml(config, base_config(tiny, out, max_steps=step + 3))
    second = run_trainer(config, tmp_path / "second")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"resuming from {saved}" in second.stdout + second.stderr
    started = second.progress()[0]
    assert started["event"] == "started" and started["step"] == step and started["resumed"]
    assert second.finished_steps() == {0: step + 3}
    assert (out / "model.safetensors").exists()


def test_sigterm_to_one_node_stops_every_rank_at_one_checkpoint(tiny: Any, tmp_path: Path) -> None:
    """Only one node's pod gets SIGTERM (its node is drained, or its kubelet is first): every
    rank stops at the same step and saves one checkpoint together, within the grace period.
    A rank that stopped alone would leave the others waiting in a collective until SIGKILL."""
    out = tmp_path / "out"
    config = write_yaml(tmp_path / "trl.yaml", base_config(tiny, out, max_steps=MAX_STEPS))
    accel = write_yaml(tmp_path / "accelerate.yaml", accelerate_config(2, 2))
    pods = start_node_pods(config, accel, tmp_path)
    progress = Path(pods[0][2]["SFTJOB_PROGRESS_FILE"])  # rank 0 reports for the job
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while _progress_step(progress) < 3:
        assert all(proc.poll() is None for proc, _, _ in pods), "a pod exited before step 3"
        assert time.monotonic() < deadline, "training never reached step 3"
        time.sleep(0.05)
    pods[1][0].send_signal(signal.SIGTERM)
    sent = time.monotonic()
    for proc, _, _ in pods:
        try:
            proc.wait(timeout=max(1.0, GRACE_S - (time.monotonic() - sent)))
        except subprocess.TimeoutExpired:
            for other, _, _ in pods:
                kill_group(other)
            pytest.fail(f"the pods did not all exit within the {GRACE_S}s grace period")
    runs = [finish(proc, pod_dir, "trainer", env) for proc, pod_dir, env in pods]

    saved = newest_complete_checkpoint(out)
    assert saved is not None, sorted(out.iterdir()) if out.exists() else "no output"
    assert [p.name for p in out.iterdir() if p.name.startswith("checkpoint-")] == [saved.name]
    for run, (_, pod_dir, _) in zip(runs, pods, strict=True):
        reason = (pod_dir / "termination-log").read_text()
        assert f"stopped by SIGTERM; {saved.name} saved" in reason, run.stderr[-3000:]
    # The signalled pod exits as a stopped process; the other one's `accelerate launch`
    # (torch's elastic agent) reports its stopped trainer as a failure: its message says why.
    assert runs[1].returncode == EXIT_TERMINATED
    assert runs[0].returncode == 1
    assert runs[0].progress()[-1]["last_checkpoint"] == saved.name
    assert not (out / "model.safetensors").exists()


def test_a_run_that_turns_the_checkpoint_off_keeps_sigterms_default(
    tiny: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    config = write_yaml(
        tmp_path / "trl.yaml",
        base_config(tiny, out, max_steps=MAX_STEPS, enable_jit_checkpoint=False),
    )
    env = pod_env(tmp_path / "run")
    logs = tmp_path / "run" / "logs"
    proc = start(train_command(config), env, logs, "trainer")
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while _progress_step(Path(env["SFTJOB_PROGRESS_FILE"])) < 1:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=GRACE_S)
    assert proc.returncode == -signal.SIGTERM
    assert newest_complete_checkpoint(out) is None
