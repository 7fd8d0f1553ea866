"""Run a training command and time it by its per-step log lines, the same way for any tool.

Trainer prints one dict per logging step (`{'loss': ..., 'num_tokens': ...}`, with
`disable_tqdm: true` and `logging_steps: 1`); `trl sft` and `sftjob-train` print the same
ones, so tokens/s and the time to the first step are read the same way for both: by when
each line reached us (PYTHONUNBUFFERED=1), not by anything one of the tools reports itself.
"""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Stamped = list[tuple[float, str]]  # (seconds since the command started, stdout line)


@dataclass(frozen=True)
class Run:
    exit_code: int
    wall_s: float
    stamped: Stamped
    peak_rss_mib: float  # the largest process of the command's tree (ru_maxrss)
    timed_out: bool = False  # killed at timeout_s


def run_stamped(
    cmd: Sequence[str],
    env: Mapping[str, str],
    log_dir: Path,
    timeout_s: float,
    on_start: Callable[[], None] | None = None,
) -> Run:
    """Run `cmd`, stamping each stdout line with its arrival; stdout/stderr go to log_dir."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamped: Stamped = []
    env = {**env, "PYTHONUNBUFFERED": "1"}
    with (log_dir / "stdout.log").open("w") as out, (log_dir / "stderr.log").open("w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), env=dict(env), stdout=subprocess.PIPE, stderr=err, text=True
        )
        if on_start:
            on_start()
        fired = threading.Event()

        def stop() -> None:
            fired.set()
            proc.kill()

        watchdog = threading.Timer(timeout_s, stop)
        watchdog.start()
        assert proc.stdout is not None
        for line in proc.stdout:
            stamped.append((time.perf_counter() - start, line))
            out.write(line)
        _, status, usage = os.wait4(proc.pid, 0)
        watchdog.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = round(usage.ru_maxrss / 1024, 1)
    return Run(proc.returncode, round(wall, 2), stamped, peak, fired.is_set())


def step_points(stamped: Stamped) -> list[tuple[float, float]]:
    """(arrival, num_tokens so far) for each of Trainer's per-step training log lines."""
    points = []
    for arrived, line in stamped:
        if not line.startswith("{'loss'"):
            continue
        try:
            logs = ast.literal_eval(line.strip())
            points.append((arrived, float(logs["num_tokens"])))
        except (ValueError, SyntaxError, KeyError, TypeError):
            continue
    return points


def steady_tokens_per_s(stamped: Stamped, skip: int = 2) -> float | None:
    """tokens/s between the `skip`-th step's log line and the last one: loading, the first
    step and warm-up left out."""
    points = step_points(stamped)
    if len(points) <= skip + 1:
        return None
    (t0, n0), (t1, n1) = points[skip], points[-1]
    return round((n1 - n0) / (t1 - t0), 1) if t1 > t0 else None


def first_step_s(stamped: Stamped) -> float | None:
    """Seconds from the command's start to its first step's log line: imports, model load,
    dataset preparation and the first step."""
    points = step_points(stamped)
    return round(points[0][0], 2) if points else None


def step_times_s(stamped: Stamped) -> list[float]:
    """Seconds between consecutive step log lines: a slow step or a stall shows here."""
    arrivals = [t for t, _ in step_points(stamped)]
    return [round(b - a, 3) for a, b in itertools.pairwise(arrivals)]
