"""Progress policy: which trainer records reach status.progress, and when.

The trainer of rank 0 writes its newest record into the job's `<job>-config` ConfigMap
(status/progress.py parses and merges it). Records are coalesced per job (progress_sink.py)
and written with the status, at most once per interval, except:
- a record of an earlier attempt (written before the current attempt's Job) is ignored;
- when an attempt ends (a final phase, or a failure), its newest record is written at once,
  since it may name a newer checkpoint to resume from, or 100%;
- a restart keeps the loss history and maxSteps; the live values wait for the new attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sftjob_operator.status import progress
from sftjob_operator.status.progress import Record

STATUS_KEYS = ("progress", "lastCheckpoint")


def from_status(status: Mapping[str, Any]) -> dict[str, Any]:
    return {k: status[k] for k in STATUS_KEYS if k in status}


def accept(
    held: Mapping[str, Any], record: Record | None, attempt: int, started: datetime | None
) -> dict[str, Any]:
    """The progress keys after a record of the current attempt (unchanged otherwise)."""
    if record is None or not progress.is_current(record, attempt, started):
        return dict(held)
    return {**held, **progress.apply(held, record)}


def for_new_attempt(held: Mapping[str, Any]) -> dict[str, Any]:
    return {**held, "progress": progress.for_new_attempt(held.get("progress") or {})}


def patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch from old to new progress keys (a dropped sub-field becomes null)."""
    out: dict[str, Any] = {}
    if new.get("lastCheckpoint") and new.get("lastCheckpoint") != old.get("lastCheckpoint"):
        out["lastCheckpoint"] = new["lastCheckpoint"]
    before, after = old.get("progress") or {}, new.get("progress") or {}
    if after != before:
        out["progress"] = {**{k: None for k in before if k not in after}, **after}
    return out
