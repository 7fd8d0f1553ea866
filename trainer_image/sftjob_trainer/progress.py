"""Training progress: a Reporter interface, JSON-lines reporters, and the TrainerCallback.

A reporter receives plain dicts, so a later Kubernetes reporter (patching a ConfigMap)
drops in without touching the callback. Only the world's main process reports.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from transformers import TrainerCallback

from .progress_k8s import configmap_reporter_from_env

PROGRESS_FILE_ENV = "SFTJOB_PROGRESS_FILE"
PROGRESS_INTERVAL_ENV = "SFTJOB_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 10.0


class Reporter(Protocol):
    def report(self, record: dict[str, Any]) -> None: ...


class JsonLinesReporter:
    """Appends one JSON object per line to a file, flushing each line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def report(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")


class StreamReporter:
    """Writes one JSON object per line to a stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def report(self, record: dict[str, Any]) -> None:
        stream = self.stream or sys.stdout
        stream.write(json.dumps(record, sort_keys=True) + "\n")
        stream.flush()


class MultiReporter:
    """Fans a record out; one failing channel does not stop the others or training."""

    def __init__(self, reporters: Sequence[Reporter]) -> None:
        self.reporters = list(reporters)

    def report(self, record: dict[str, Any]) -> None:
        for reporter in self.reporters:
            try:
                reporter.report(record)
            except Exception as exc:  # progress must never kill a training run
                print(f"sftjob-train: progress reporter failed: {exc}", file=sys.stderr)


def reporter_from_env(env: dict[str, str] | None = None) -> Reporter:
    env = dict(os.environ) if env is None else env
    reporters: list[Reporter] = [StreamReporter()]
    if env.get(PROGRESS_FILE_ENV):
        reporters.append(JsonLinesReporter(env[PROGRESS_FILE_ENV]))
    configmap = configmap_reporter_from_env(env)
    if configmap is not None:
        reporters.append(configmap)
    return MultiReporter(reporters)


def interval_from_env(env: dict[str, str] | None = None) -> float:
    env = dict(os.environ) if env is None else env
    raw = env.get(PROGRESS_INTERVAL_ENV, "")
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"{PROGRESS_INTERVAL_ENV}={raw!r} is not a number; write seconds, e.g. 10"
        ) from None
    if value < 0:
        raise ValueError(f"{PROGRESS_INTERVAL_ENV}={raw!r} is negative; write seconds >= 0")
    return value


def progress_record(
    *,
    step: int,
    max_steps: int,
    epoch: float | None,
    loss: float | None,
    learning_rate: float | None,
    elapsed_s: float,
    steps_this_run: int,
    tokens_this_run: int | None,
    final: bool,
    now: datetime,
    last_checkpoint: str | None = None,
) -> dict[str, Any]:
    """Pure: the dict a reporter receives."""
    percent = 100.0 * step / max_steps if max_steps > 0 else 0.0
    tokens_per_second = (
        tokens_this_run / elapsed_s if tokens_this_run is not None and elapsed_s > 0 else None
    )
    eta = None
    if final:
        eta = 0.0
    elif steps_this_run > 0 and max_steps > 0:
        eta = max(max_steps - step, 0) * elapsed_s / steps_this_run
    # JSON has no NaN or infinity: such a loss is named instead (the operator's watchdog
    # reports it as Stalled, LossNotFinite).
    not_finite = None if loss is None or math.isfinite(loss) else str(loss)
    return {
        "event": "progress",
        "time": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "step": step,
        "max_steps": max_steps,
        "epoch": round(epoch, 4) if epoch is not None else None,
        "loss": round(loss, 4) if loss is not None and not not_finite else None,
        "loss_not_finite": not_finite,
        "learning_rate": learning_rate,
        "tokens_per_second": round(tokens_per_second, 2) if tokens_per_second is not None else None,
        "eta_seconds": round(eta, 1) if eta is not None else None,
        "percent": round(min(percent, 100.0), 2),
        "final": final,
        "last_checkpoint": last_checkpoint,
    }


class Throttle:
    """Allows an event at most once per interval; the first one always passes."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self.clock()
        if self._last is None or now - self._last >= self.interval_s:
            self._last = now
            return True
        return False


class ProgressCallback(TrainerCallback):
    """Reports progress from the world's main process, throttled, plus a final record.

    Reports happen at step ends; loss and learning rate are the latest logged values
    (the Trainer logs every `logging_steps`), tokens/s counts this run's tokens only.
    """

    def __init__(
        self,
        reporter: Reporter,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reporter = reporter
        self.clock = clock
        self.throttle = Throttle(interval_s, clock)
        self._start_time = 0.0
        self._start_step = 0
        self._loss: float | None = None
        self._lr: float | None = None
        self._tokens: int | None = None
        self._last_reported_step: int | None = None
        self._last_checkpoint: str | None = None

    def _emit(self, state: Any, final: bool) -> None:
        elapsed = self.clock() - self._start_time
        record = progress_record(
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=state.epoch,
            loss=self._loss,
            learning_rate=self._lr,
            elapsed_s=elapsed,
            steps_this_run=state.global_step - self._start_step,
            tokens_this_run=self._tokens,
            final=final,
            now=datetime.now(UTC),
            last_checkpoint=self._last_checkpoint,
        )
        self._last_reported_step = state.global_step
        self.reporter.report(record)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start_time = self.clock()
        self._start_step = state.global_step
        if state.is_world_process_zero:
            self.reporter.report(
                {
                    "event": "started",
                    "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "step": state.global_step,
                    "max_steps": state.max_steps,
                    "resumed": state.global_step > 0,
                }
            )

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        logs = logs or {}
        if "loss" in logs:
            self._loss = float(logs["loss"])
        if "learning_rate" in logs:
            self._lr = float(logs["learning_rate"])
        if "num_tokens" in logs:
            self._tokens = int(logs["num_tokens"])

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # A step that ends in a save is reported by on_save, with its checkpoint.
        if state.is_world_process_zero and not control.should_save and self.throttle.ready():
            self._emit(state, final=False)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Reported at once, not throttled: a restarted attempt resumes from it.
        if state.is_world_process_zero:
            self._last_checkpoint = f"checkpoint-{state.global_step}"
            self._emit(state, final=False)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self._emit(state, final=True)
