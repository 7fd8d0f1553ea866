"""The live progress of a local run, from the trainer's progress records.

The trainer appends one JSON object per line to SFTJOB_PROGRESS_FILE (rank 0 only): a
"started" record (step, resumed), then "progress" records (step, max_steps, loss,
tokens_per_second, eta_seconds, final). On a terminal a rich progress bar shows them;
piped, one line per record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from sftjob_cli import views

POLL_S = 0.5


def started_text(record: Mapping[str, Any]) -> str:
    step = int(record.get("step") or 0)
    if record.get("resumed"):
        return f"resumed from step {step} (checkpoint-{step}) of {record.get('max_steps', '?')}"
    return f"started at step 0 of {record.get('max_steps', '?')}"


def stats_text(record: Mapping[str, Any]) -> str:
    """`step 120/2000  loss 2.31  1,234 tokens/s  ETA 1m40s`."""
    parts = [f"step {record.get('step', '?')}/{record.get('max_steps', '?')}"]
    if isinstance(record.get("loss"), int | float):
        parts.append(f"loss {record['loss']:.4g}")
    if isinstance(record.get("tokens_per_second"), int | float):
        parts.append(f"{record['tokens_per_second']:,.0f} tokens/s")
    if isinstance(record.get("eta_seconds"), int | float):
        parts.append(f"ETA {views.human_duration(record['eta_seconds'])}")
    return "  ".join(parts)


def new_records(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The whole lines written since `offset`, parsed; the offset after them."""
    if not path.exists():
        return [], offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for line in complete.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records, offset + len(complete)


def records_until(path: Path, offset: int, done: Callable[[], object]) -> Iterator[dict[str, Any]]:
    """The records as they come, until `done()` is not None (the process exited)."""
    while True:
        finished = done() is not None
        records, offset = new_records(path, offset)
        yield from records
        if finished:
            return
        time.sleep(POLL_S)


def follow_progress(path: Path, offset: int, done: Callable[[], object]) -> dict[str, Any]:
    """Show the records until the trainer exits; the last progress record."""
    console = Console(stderr=True)
    if not console.is_terminal:
        return _follow_plain(path, offset, done)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[stats]}"),
    )
    last: dict[str, Any] = {}
    with Progress(*columns, console=console) as bar:
        task: TaskID = bar.add_task("training", total=None, stats="loading the model")
        for record in records_until(path, offset, done):
            if record.get("event") == "started":
                bar.console.print(started_text(record))
                bar.update(task, total=record.get("max_steps"), completed=record.get("step", 0))
                continue
            last = record
            bar.update(task, total=record.get("max_steps"), completed=record.get("step", 0),
                       stats=stats_text(record))  # fmt: skip
    return last


def _follow_plain(path: Path, offset: int, done: Callable[[], object]) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for record in records_until(path, offset, done):
        if record.get("event") == "started":
            click.echo(started_text(record), err=True)
            continue
        last = record
        click.echo(
            f"{views.bar(float(record.get('percent') or 0), 20)}  {stats_text(record)}", err=True
        )
    return last
