"""The entrypoint passes SIGTERM to every process of `accelerate launch` and waits for
them: a training process still checkpointing is not cut off when the launcher exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sftjob_trainer.preemption import EXIT_TERMINATED

pytestmark = pytest.mark.trainer

# Like accelerate's single-process launcher: it starts the trainer and dies on SIGTERM.
LAUNCHER = textwrap.dedent(
    """
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]]).wait()
    """
)
# Like torch's elastic agent: on SIGTERM it waits for its trainer and exits 1.
ELASTIC_LAUNCHER = textwrap.dedent(
    """
    import signal, subprocess, sys
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    trainer = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    sys.exit(1 if trainer.wait() else 0)
    """
)
# The trainer: on SIGTERM it takes a while to checkpoint, then exits 143.
TRAINER = textwrap.dedent(
    """
    import pathlib, signal, sys, time
    done = pathlib.Path(sys.argv[1])
    def checkpoint(signum, frame):
        time.sleep(1.5)
        done.write_text("checkpoint")
        sys.exit(143)
    signal.signal(signal.SIGTERM, checkpoint)
    pathlib.Path(str(done) + ".ready").touch()
    time.sleep(60)
    """
)
ENTRYPOINT = textwrap.dedent(
    """
    import os, sys
    from sftjob_trainer.preemption import run_forwarding_signals
    sys.exit(run_forwarding_signals(sys.argv[1:], os.environ))
    """
)


def start_training(done: Path, launcher: str = LAUNCHER) -> subprocess.Popen[bytes]:
    """The entrypoint over a launcher over TRAINER, once the trainer is ready for a signal."""
    argv = [sys.executable, "-c", launcher, TRAINER, str(done)]
    entry = subprocess.Popen([sys.executable, "-c", ENTRYPOINT, *argv], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while not Path(str(done) + ".ready").exists():
        assert entry.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    return entry


def test_sigterm_reaches_the_trainer_and_the_entrypoint_waits_for_its_checkpoint(
    tmp_path: Path,
) -> None:
    done = tmp_path / "checkpoint"
    entry = start_training(done)
    entry.send_signal(signal.SIGTERM)  # the first process only, as the kubelet does
    code = entry.wait(timeout=30)
    assert done.read_text() == "checkpoint"  # the trainer finished its checkpoint first
    assert code == EXIT_TERMINATED


def test_a_launcher_that_reports_its_stopped_trainer_as_failed_still_exits_as_stopped(
    tmp_path: Path,
) -> None:
    done = tmp_path / "checkpoint"
    entry = start_training(done, ELASTIC_LAUNCHER)
    entry.send_signal(signal.SIGTERM)
    assert entry.wait(timeout=30) == EXIT_TERMINATED
    assert done.read_text() == "checkpoint"


def test_a_dead_launchers_trainer_is_stopped_not_left_training(tmp_path: Path) -> None:
    """The launcher is SIGKILLed (as by the OOM killer): its trainer is told to stop (and
    checkpoints), and the entrypoint exits with the launcher's status instead of waiting
    for a trainer that nothing supervises."""
    done = tmp_path / "checkpoint"
    entry = start_training(done)
    launcher = next(
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit()
        and (p / "stat").exists()
        and int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == entry.pid
    )
    os.kill(launcher, signal.SIGKILL)
    code = entry.wait(timeout=30)
    assert done.read_text() == "checkpoint"
    assert code == 128 + signal.SIGKILL
