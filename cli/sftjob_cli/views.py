"""Pure views of an SFTJob's status: the `kubectl get sft` columns, progress bars, ages,
the loss sparkline and the restarts read from the operator's Events.

Everything here takes plain dicts (the SFTJob as the API returns it) and returns strings,
so get, describe, submit and plot share one rendering, tested with tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sftjob_cli import operator_api

# `kubectl get sft` (the CRD's printer columns, hack/crd_cluster.py, but its Queue column
# only when a job has one), then what -o wide adds. A job Kueue holds shows PHASE Queued
# or Preempted, and its LocalQueue in QUEUE; MESSAGE says what Kueue said.
COLUMNS = ("NAME", "PHASE", "PROGRESS", "LOSS", "NODES", "GPUS/NODE", "AGE")
WIDE = ("STEP", "TOKENS/S", "ETA", "ATTEMPT", "RESTARTS", "QUEUE", "MESSAGE")
QUEUE_LABEL = operator_api.KUEUE_QUEUE_LABEL
SPARKS = "▁▂▃▄▅▆▇█"
RESUMED_FROM = re.compile(r"resuming from checkpoint-(\d+)")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """kubectl's duration.HumanDuration: 45s, 5m3s, 3h, 2d4h, ..."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 120:
        return f"{max(s, 0)}s"
    minutes, hours = s // 60, s // 3600
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    years = days // 365
    if hours < 24 * 365 * 8:
        return f"{years}y" if days % 365 == 0 else f"{years}y{days % 365}d"
    return f"{years}y"


def age(timestamp: Any, now: datetime) -> str:
    started = parse_time(timestamp)
    return human_duration((now - started).total_seconds()) if started else "<unknown>"


def number(value: Any) -> str:
    """A printer column number as kubectl prints it: the shortest form, no trailing .0."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, int) else f"{value:.6g}"


def bar(percent: float, width: int = 20) -> str:
    """A text progress bar: `██████░░░░░░  30%`."""
    share = min(max(percent, 0.0), 100.0) / 100.0
    full = round(share * width)
    return "█" * full + "░" * (width - full) + f" {percent:5.1f}%"


def eta(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    return human_duration(float(seconds))


def status_of(job: Mapping[str, Any]) -> dict[str, Any]:
    return dict(job.get("status") or {})


def progress_of(job: Mapping[str, Any]) -> dict[str, Any]:
    return dict(status_of(job).get("progress") or {})


def is_running(job: Mapping[str, Any]) -> bool:
    return status_of(job).get("phase") == operator_api.RUNNING


def progress_cell(job: Mapping[str, Any], bars: bool) -> str:
    percent = progress_of(job).get("percent")
    if not isinstance(percent, int | float):
        return ""
    return bar(float(percent)) if bars and is_running(job) else number(percent)


def row(job: Mapping[str, Any], now: datetime, *, wide: bool = False, bars: bool = False) -> dict:
    """The job's cells by column name (COLUMNS, then WIDE when asked)."""
    meta, spec = job.get("metadata") or {}, job.get("spec") or {}
    st, progress = status_of(job), progress_of(job)
    cells = {
        "NAMESPACE": str(meta.get("namespace", "")),
        "NAME": str(meta.get("name", "")),
        "PHASE": str(st.get("phase", "")),
        "PROGRESS": progress_cell(job, bars),
        "LOSS": number(progress.get("loss")),
        "NODES": number(spec.get("nodes", 1)),
        "GPUS/NODE": number(spec.get("gpusPerNode", 0)),
        "AGE": age(meta.get("creationTimestamp"), now),
        "STEP": step_text(progress),
        "TOKENS/S": number(progress.get("tokensPerSecond")),
        "ETA": eta(progress.get("etaSeconds")) if is_running(job) else "",
        "ATTEMPT": number(st.get("attempt")),
        "RESTARTS": number(st.get("restarts", 0)),
        "QUEUE": str((meta.get("labels") or {}).get(QUEUE_LABEL, "")),
        "MESSAGE": str(st.get("message", "")),
    }
    return cells


def step_text(progress: Mapping[str, Any]) -> str:
    step, total = progress.get("step"), progress.get("maxSteps")
    if step is None:
        return ""
    return f"{step}/{total}" if total else str(step)


def columns(
    jobs: Sequence[Mapping[str, Any]], *, wide: bool = False, all_namespaces: bool = False
) -> list[str]:
    """The columns to show: kubectl's, RESTARTS and QUEUE when a job has them, or all of
    -o wide's."""
    out = ["NAMESPACE"] if all_namespaces else []
    out += COLUMNS
    if wide:
        return [*out, *WIDE]
    if any(status_of(j).get("restarts") for j in jobs):
        out.append("RESTARTS")
    if any((j.get("metadata") or {}).get("labels", {}).get(QUEUE_LABEL) for j in jobs):
        out.append("QUEUE")
    return out


def table(
    jobs: Sequence[Mapping[str, Any]],
    now: datetime,
    *,
    wide: bool = False,
    all_namespaces: bool = False,
    bars: bool = False,
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) for the jobs."""
    header = columns(jobs, wide=wide, all_namespaces=all_namespaces)
    rows = [row(j, now, wide=wide, bars=bars) for j in jobs]
    return header, [[cells[c] for c in header] for cells in rows]


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """kubectl's layout: columns padded to their widest cell, three spaces apart."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = []
    for cells in [list(header), *rows]:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        lines.append("   ".join(padded).rstrip())
    return lines


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """`▇▆▄▃▂▂▁`: the values resampled to at most `width` characters."""
    points = [v for v in values if math.isfinite(v)]
    if not points:
        return ""
    if len(points) > width:
        points = [points[round(i * (len(points) - 1) / (width - 1))] for i in range(width)]
    low, high = min(points), max(points)
    span = high - low
    top = len(SPARKS) - 1
    return "".join(SPARKS[round((v - low) / span * top) if span else 0] for v in points)


def loss_history(job: Mapping[str, Any]) -> list[tuple[int, float]]:
    history = progress_of(job).get("lossHistory") or []
    out = []
    for item in history:
        step, loss = item.get("step"), item.get("loss")
        if isinstance(step, int) and isinstance(loss, int | float) and math.isfinite(loss):
            out.append((step, float(loss)))
    return out


def restarts(events: Sequence[Mapping[str, Any]]) -> list[tuple[str, int | None]]:
    """The operator's Restarting events: (message, the step resumed from when it said)."""
    out = []
    for event in events:
        if event.get("reason") != operator_api.RESTARTING:
            continue
        message = str(event.get("message", ""))
        found = RESUMED_FROM.search(message)
        out.append((message, int(found.group(1)) if found else None))
    return out
