"""The `sftjob` cluster commands against a real run on the devcluster's local node.

One job serves most checks (each real training costs minutes here): `submit --wait`
applies and follows it, a killed trainer restarts it and `describe` shows the restart,
`get -w` shows the next attempt's progress moving, `plot -o` draws its loss; `submit
--wait` ends 0. A short 2-node job then shows both ranks in `logs --all-ranks`. A job that cannot load its model ends 1.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_tiny_cpu import (
    TRAINING_TIMEOUT,
    kill_worker_after_first_checkpoint,
    phase_in,
    tiny_job,
)
from tests.operator_fixtures import QUICK_RESTART, apply, get_sft, status, wait_for

pytestmark = pytest.mark.e2e

RENDEZVOUS_PORT = 29500  # sftjob_operator.render.names

SFTJOB = str(Path(sys.executable).with_name("sftjob"))
PERCENT = re.compile(r"\s(\d+\.\d)%")


def sftjob(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SFTJOB, *args], capture_output=True, text=True, timeout=timeout, env=env or None
    )


class Lines:
    """A command's stdout lines, collected while it runs."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [SFTJOB, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=30)
        self.thread.join(timeout=10)


def write_job(tmp_path: Path, job: dict[str, Any]) -> str:
    path = tmp_path / f"{job['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(job))
    return str(path)


def percents_while_running(lines: list[str]) -> list[float]:
    return [float(m.group(1)) for line in lines if " Running " in line
            for m in [PERCENT.search(line)] if m]  # fmt: skip


def moved(percents: list[float]) -> bool:
    """A later row shows more progress than the first (which may be the last attempt's)."""
    return len(percents) >= 2 and percents[-1] > percents[0]


def test_follow_describe_logs_and_plot_one_job(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, local_node: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    job = tiny_job(
        namespace, "cli-one", sftConfig={"max_steps": 400, "save_steps": 50}, **QUICK_RESTART
    )
    submit = Lines("submit", write_job(tmp_path, job), "--wait", "--interval", "1")
    wait_for("submit to apply the job", lambda: get_sft(devcluster, namespace, "cli-one"))
    agent_logs = {**os.environ, "SFTJOB_NODE_AGENT_STATE_DIR": str(local_node)}
    follow = Lines("logs", "cli-one", "-f", "-n", namespace, env=agent_logs)
    # Watched from the start: a resumed attempt reuses the prepared dataset and may finish
    # within seconds of its restart.
    watch = Lines("get", "cli-one", "-w", "-n", namespace, "--interval", "1")
    try:
        kill_worker_after_first_checkpoint(
            devcluster, local_node, demo_claims, namespace, "cli-one"
        )
        wait_for("the restart",
                 lambda: status(devcluster, namespace, "cli-one").get("restarts") == 1,
                 timeout=TRAINING_TIMEOUT)  # fmt: skip
        described = sftjob("describe", "cli-one", "-n", namespace)
        assert described.returncode == 0, described.stderr
        assert re.search(r"Restarts:\s+1 \(backoffLimit 2\)", described.stdout), described.stdout
        assert re.search(r"Restart events:\n  .*resuming from", described.stdout), described.stdout
        assert "Restarting" in described.stdout and "Conditions:" in described.stdout
        wait_for("get -w to show the progress move",
                 lambda: moved(percents_while_running(watch.lines)),
                 timeout=TRAINING_TIMEOUT)  # fmt: skip
    finally:
        watch.stop()
    assert watch.lines[0].split()[:4] == ["NAME", "PHASE", "PROGRESS", "LOSS"], watch.lines
    assert "█" in "".join(watch.lines), watch.lines

    final = wait_for("the job to finish",
                     lambda: phase_in(devcluster, namespace, "cli-one", "Succeeded", "Failed"),
                     timeout=TRAINING_TIMEOUT)  # fmt: skip
    assert final["phase"] == "Succeeded", final
    submit.proc.wait(timeout=60)
    submit.stop()
    assert submit.proc.returncode == 0, submit.lines
    assert any(line.startswith("cli-one: Succeeded") for line in submit.lines), submit.lines

    follow.proc.wait(timeout=60)  # -f ends by itself once the job has finished
    follow.stop()
    assert "--- attempt 2 (restart 1) ---" in follow.lines, follow.lines[-20:]
    restart = follow.lines.index("--- attempt 2 (restart 1) ---")
    assert any("started" in line for line in follow.lines[:restart]), follow.lines[:50]
    assert (
        "[rank 0 local-cpu] sftjob-train: rank 0/1 finished at step 400" in follow.lines[restart:]
    )
    check_plot(namespace, tmp_path)
    check_logs_of_two_ranks(devcluster, namespace, local_node)


def rendezvous_port_free() -> bool:
    """Pods of the local node share this machine's network: another 2-node job (of another
    test session) holds the rendezvous port until it ends."""
    with socket.socket() as sock:
        try:
            sock.bind(("0.0.0.0", RENDEZVOUS_PORT))
        except OSError:
            return False
    return True


def check_logs_of_two_ranks(devcluster: Any, namespace: str, local_node: Path) -> None:
    wait_for("the rendezvous port to be free", rendezvous_port_free, timeout=TRAINING_TIMEOUT)
    two = tiny_job(namespace, "cli-two", nodes=2, sftConfig={"max_steps": 30, "output_dir": "two"})
    apply(devcluster, two)  # its own output_dir on the shared claim: no checkpoint to resume
    final = wait_for("the 2-node job to finish",
                     lambda: phase_in(devcluster, namespace, "cli-two", "Succeeded", "Failed"),
                     timeout=TRAINING_TIMEOUT)  # fmt: skip
    assert final["phase"] == "Succeeded", final
    env = {**os.environ, "SFTJOB_NODE_AGENT_STATE_DIR": str(local_node)}  # see logs.py
    logs = sftjob("logs", "cli-two", "-n", namespace, "--all-ranks", env=env)
    assert logs.returncode == 0, logs.stderr
    ranks = {line.split("]")[0] + "]" for line in logs.stdout.splitlines()}
    assert ranks == {"[rank 0 local-cpu]", "[rank 1 local-cpu]"}, ranks
    assert "rank 1/2 finished at step 30" in logs.stdout, logs.stdout[-3000:]
    one = sftjob("logs", "cli-two", "-n", namespace, "--rank", "1", "--attempt", "1", env=env)
    assert one.returncode == 0 and one.stdout.startswith("[rank 1 local-cpu] "), one
    assert "[rank 0 " not in one.stdout
    last = sftjob("logs", "cli-two", "-n", namespace, "--all-ranks", "--tail", "2", env=env)
    assert last.returncode == 0 and len(last.stdout.splitlines()) == 4, last
    assert "rank 1/2 finished at step 30" in last.stdout, last.stdout


def check_plot(namespace: str, tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "loss.png"
    drawn = sftjob("plot", "cli-one", "-n", namespace, "-o", str(png))
    assert drawn.returncode == 0, drawn.stderr
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size == (800, 450)
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 10  # lines, text and the restart mark: not blank
    text = sftjob("plot", "cli-one", "-n", namespace)
    assert (
        text.returncode == 0 and "┤" in text.stdout and "restarts, resumed at step" in text.stdout
    )


def test_submit_wait_exits_nonzero_for_a_failed_job(
    devcluster: Any, operator: Any, namespace: str, demo_claims: Path, tmp_path: Path
) -> None:
    job = tiny_job(namespace, "cli-fails", backoffLimit=0)
    job["spec"]["modelConfig"]["model_name_or_path"] = "/var/lib/sftjob-demo/no-such-model"
    done = sftjob(
        "submit", write_job(tmp_path, job), "--wait", "--interval", "1", timeout=TRAINING_TIMEOUT
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "cli-fails: Failed" in done.stdout
    missing = sftjob("describe", "nope", "-n", namespace)
    assert missing.returncode == 1
    assert missing.stderr == f'error: sftjob "nope" not found in namespace "{namespace}"\n'
