"""Derived phase + current status -> the next status, and the Events a transition deserves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.status import conditions as cond
from sftjob_operator.status.phase import (
    FAILED,
    FINAL_PHASES,
    RESTARTING,
    RUNNING,
    SUCCEEDED,
    SUSPENDED,
    Derived,
)

WARNING_REASONS = frozenset(
    {
        "CreateFailed",
        "Unschedulable",
        "ImagePullBackOff",
        "CreateContainerConfigError",
        "Restarting",
    }
)


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


def next_status(
    current: Mapping[str, Any],
    derived: Derived,
    *,
    now: str,
    generation: int | None,
    attempt: int,
) -> dict[str, Any]:
    """The status to write; equal to `current` when nothing changed. Never leaves a final phase."""
    if current.get("phase") in FINAL_PHASES:
        return dict(current)
    phase = derived.phase
    conds = list(current.get("conditions") or [])
    suspended = phase == SUSPENDED
    if suspended or cond.get(conds, cond.SUSPENDED):
        conds = cond.set_condition(
            conds,
            cond.SUSPENDED,
            suspended,
            derived.reason if suspended else "Resumed",
            derived.message if suspended else "the job is no longer suspended",
            now=now,
            generation=generation,
        )
    restarting = phase == RESTARTING
    if restarting or cond.get(conds, cond.RESTARTING):
        conds = cond.set_condition(
            conds,
            cond.RESTARTING,
            restarting,
            derived.reason if restarting else "AttemptStarted",
            derived.message if restarting else f"attempt {attempt} is no longer restarting",
            now=now,
            generation=generation,
        )
    conds = cond.set_condition(
        conds,
        cond.RUNNING,
        phase == RUNNING,
        derived.reason,
        derived.message,
        now=now,
        generation=generation,
    )
    if phase in FINAL_PHASES:
        conds = cond.set_condition(
            conds,
            cond.SUCCEEDED if phase == SUCCEEDED else cond.FAILED,
            True,
            derived.reason,
            derived.message,
            now=now,
            generation=generation,
        )
    status = {
        **current,
        "phase": phase,
        "message": derived.message,
        "conditions": conds,
        "attempt": attempt,
    }
    if generation is not None:
        status["observedGeneration"] = generation
    if phase == RUNNING and not current.get("startTime"):
        status["startTime"] = now
    if phase in FINAL_PHASES:
        status["completionTime"] = derived.completion_time or now
    return status


def with_condition(
    current: Mapping[str, Any],
    type_: str,
    value: bool,
    reason: str,
    message: str,
    *,
    now: str,
    generation: int | None,
) -> dict[str, Any]:
    conds = cond.set_condition(
        current.get("conditions") or [],
        type_,
        value,
        reason,
        message,
        now=now,
        generation=generation,
    )
    return {**current, "conditions": conds}


def phase_reason(status: Mapping[str, Any]) -> str | None:
    """The reason of the current phase; the Running condition carries it in every phase."""
    running = cond.get(status.get("conditions") or (), cond.RUNNING)
    return str(running["reason"]) if running and running.get("reason") else None


def transition_events(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Event]:
    """One Event when the phase changed, or when a new reason blocks progress (a Warning)."""
    key_old = (old.get("phase"), phase_reason(old))
    key_new = (new.get("phase"), phase_reason(new))
    if key_new == key_old or not new.get("phase"):
        return []
    reason = key_new[1] or str(new["phase"])
    warning = new["phase"] == FAILED or reason in WARNING_REASONS
    if key_new[0] == key_old[0] and not warning:
        return []
    message = f"{new['phase']}: {new.get('message') or reason}"
    return [Event("Warning" if warning else "Normal", reason, message)]
