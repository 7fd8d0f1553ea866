"""Progress records from the trainer -> status.progress. Pure: validation and merging.

The trainer (rank 0) writes one JSON record into the `progress.json` key of the job's
`<job>-config` ConfigMap. Anything a pod can write is untrusted: a record is parsed only when
it is small, every known field has the right type and a sane range, and numbers are
finite. A record with any bad field is dropped whole; unknown keys are ignored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sftjob_operator.status import timeutil

PROGRESS_KEY = "progress.json"
MAX_RECORD_BYTES = 4096
MAX_HISTORY = 200
MAX_STEPS = 10**12
EVENTS = frozenset({"progress", "started"})
CHECKPOINT = re.compile(r"checkpoint-[0-9]{1,12}")
# JSON has no NaN or infinity: the trainer names a loss that is not a number instead
# (`loss_not_finite`), and status.progress.lossNotFinite keeps it for the watchdog.
NOT_FINITE = ("nan", "inf", "-inf")
MAX_TIME_CHARS = 40

# record key -> (status.progress key, minimum, maximum)
NUMBERS: dict[str, tuple[str, float, float]] = {
    "epoch": ("epoch", 0.0, 1e9),
    "loss": ("loss", -1e12, 1e12),
    "learning_rate": ("learningRate", 0.0, 1e6),
    "tokens_per_second": ("tokensPerSecond", 0.0, 1e15),
    "eta_seconds": ("etaSeconds", 0.0, 1e10),
    "percent": ("percent", 0.0, 100.0),
}


class InvalidRecord(ValueError):
    """Why a progress record was dropped (for the operator's debug log)."""


@dataclass(frozen=True)
class Record:
    event: str
    time: datetime
    step: int
    max_steps: int | None = None
    numbers: Mapping[str, float] | None = None  # status.progress key -> value
    last_checkpoint: str | None = None
    final: bool = False
    loss_not_finite: str | None = None  # one of NOT_FINITE: the loss was not a number

    @property
    def percent(self) -> float | None:
        if self.numbers and "percent" in self.numbers:
            return self.numbers["percent"]
        if self.max_steps:
            return round(min(100.0 * self.step / self.max_steps, 100.0), 2)
        return None


def _int(raw: Mapping[str, Any], key: str, required: bool) -> int | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_STEPS:
        raise InvalidRecord(f"{key}={value!r} is not an integer in 0..{MAX_STEPS}")
    return value


def _number(raw: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidRecord(f"{key}={value!r} is not a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidRecord(f"{key}={value!r} is not a finite number in {low:g}..{high:g}")
    return float(value)


def _time(raw: Mapping[str, Any]) -> datetime:
    value = raw.get("time")
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        raise InvalidRecord(f"time={value!r} is not an RFC 3339 timestamp")
    try:
        parsed = timeutil.parse(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidRecord(f"time={value!r} is not an RFC 3339 timestamp with a zone")
    return parsed


def parse_record(text: Any, max_bytes: int = MAX_RECORD_BYTES) -> Record:
    """The validated record in `text`; raises InvalidRecord saying what was wrong."""
    if not isinstance(text, str):
        raise InvalidRecord("the record is not a string")
    if len(text.encode()) > max_bytes:
        raise InvalidRecord(f"the record is larger than {max_bytes} bytes")
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InvalidRecord(f"the record is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidRecord("the record is not a JSON object")
    event = raw.get("event")
    if event not in EVENTS:
        raise InvalidRecord(f"event={event!r} is not one of {sorted(EVENTS)}")
    step = _int(raw, "step", required=True)
    assert step is not None
    max_steps = _int(raw, "max_steps", required=False)
    if max_steps and step > max_steps:
        raise InvalidRecord(f"step {step} is beyond max_steps {max_steps}")
    numbers = {}
    for key, (field, low, high) in NUMBERS.items():
        value = _number(raw, key, low, high)
        if value is not None:
            numbers[field] = value
    checkpoint = raw.get("last_checkpoint")
    if checkpoint is not None and (
        not isinstance(checkpoint, str) or not CHECKPOINT.fullmatch(checkpoint)
    ):
        raise InvalidRecord(f"last_checkpoint={checkpoint!r} is not checkpoint-<step>")
    final = raw.get("final", False)
    if not isinstance(final, bool):
        raise InvalidRecord(f"final={final!r} is not a boolean")
    not_finite = raw.get("loss_not_finite")
    if not_finite is not None and not_finite not in NOT_FINITE:
        raise InvalidRecord(f"loss_not_finite={not_finite!r} is not one of {list(NOT_FINITE)}")
    return Record(
        event=str(event),
        time=_time(raw),
        step=step,
        max_steps=max_steps,
        numbers=numbers,
        last_checkpoint=checkpoint,
        final=final,
        loss_not_finite=not_finite,
    )


def try_parse(text: Any, max_bytes: int = MAX_RECORD_BYTES) -> tuple[Record | None, str]:
    try:
        return parse_record(text, max_bytes), ""
    except InvalidRecord as exc:
        return None, str(exc)


def is_current(record: Record, attempt: int, attempt_started: datetime | None) -> bool:
    """Whether a record belongs to the current attempt (written after its Job was created).

    Attempt 1 has no predecessor, so its records count even before its Job is seen.
    """
    if attempt_started is None:
        return attempt <= 1
    return record.time >= attempt_started


def _history(progress: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in progress.get("lossHistory") or ():
        if isinstance(item, Mapping) and isinstance(item.get("step"), int):
            loss = item.get("loss")
            if isinstance(loss, int | float) and math.isfinite(loss):
                out.append({"step": item["step"], "loss": loss})
    return out


def downsample(history: Sequence[Mapping[str, Any]], limit: int = MAX_HISTORY) -> list[Any]:
    """At most `limit` entries: while over, keep every second one, and the first and newest.

    Halving leaves older points sparser than recent ones, which is what a loss plot needs:
    the whole run's shape, and detail where training is now.
    """
    out = list(history)
    while len(out) > limit:
        out = [*out[:-1:2], out[-1]]
    return out


def merge(progress: Mapping[str, Any], record: Record) -> dict[str, Any]:
    """The next status.progress after one accepted record."""
    out: dict[str, Any] = {k: v for k, v in progress.items() if k != "lossHistory"}
    out["step"] = record.step
    if record.max_steps is not None:
        out["maxSteps"] = record.max_steps
    if (percent := record.percent) is not None:
        out["percent"] = percent
    for key, value in (record.numbers or {}).items():
        out[key] = value
    if record.loss_not_finite:
        out["lossNotFinite"] = record.loss_not_finite
        out.pop("loss", None)  # the last finite loss no longer says how training goes
    elif "loss" in (record.numbers or {}):
        out.pop("lossNotFinite", None)
    if record.event == "started":
        out.pop("etaSeconds", None)  # the previous attempt's estimate no longer holds
    out["updatedAt"] = timeutil.fmt(record.time)
    # A resumed attempt redoes the steps after its checkpoint: forget their old losses.
    history = [h for h in _history(progress) if h["step"] < record.step]
    loss = (record.numbers or {}).get("loss")
    if record.event == "progress" and loss is not None:
        history.append({"step": record.step, "loss": loss})
    if history:
        out["lossHistory"] = downsample(history)
    return out


def for_new_attempt(progress: Mapping[str, Any]) -> dict[str, Any]:
    """status.progress when an attempt restarts: the plot and the goal stay; the live
    values (step, percent, loss, speed, ETA) wait for the new attempt's first record."""
    return {k: progress[k] for k in ("maxSteps", "lossHistory") if k in progress}


def apply(status: Mapping[str, Any], record: Record) -> dict[str, Any]:
    """The status keys a record sets: progress, and lastCheckpoint when it names one."""
    out: dict[str, Any] = {"progress": merge(status.get("progress") or {}, record)}
    if record.last_checkpoint:
        out["lastCheckpoint"] = record.last_checkpoint
    return out
