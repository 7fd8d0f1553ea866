"""Derived phase + current status -> the next status, and the Events a transition deserves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sftjob_operator.status import conditions as cond
from sftjob_operator.status.phase import (
    BACKOFF,
    CLAIM_NOT_FOUND,
    CREATE_FAILED,
    FAILED,
    FINAL_PHASES,
    POD_CREATE_FAILED,
    RESTARTING,
    RUNNING,
    SUCCEEDED,
    SUSPENDED,
    Derived,
)

WARNING_REASONS = frozenset(
    {
        CREATE_FAILED,
        CLAIM_NOT_FOUND,
        POD_CREATE_FAILED,
        "Unschedulable",
        "ImagePullBackOff",
        "CreateContainerConfigError",
        "Restarting",
        BACKOFF,
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
    job_started: str | None = None,
) -> dict[str, Any]:
    """The status to write; equal to `current` when nothing changed. Never leaves a final phase.

    startTime is when Running was first seen; a job first seen past Running (it ran while
    the operator was down, or quicker than a reconcile) takes its Job's startTime."""
    if current.get("phase") in FINAL_PHASES:
        return dict(current)
    phase = derived.phase
    status = {
        **current,
        "phase": phase,
        "message": derived.message,
        "conditions": phase_conditions(
            current.get("conditions") or [],
            derived,
            now=now,
            generation=generation,
            attempt=attempt,
        ),
        "attempt": attempt,
    }
    if generation is not None:
        status["observedGeneration"] = generation
    if phase == RUNNING and not current.get("startTime"):
        status["startTime"] = now
    elif phase in (*FINAL_PHASES, RESTARTING) and job_started and not current.get("startTime"):
        status["startTime"] = job_started
    if phase in FINAL_PHASES:
        status["completionTime"] = derived.completion_time or now
    return status


ATTEMPT_STARTED = "AttemptStarted"  # the Restarting condition, once the new attempt runs


def phase_conditions(
    conditions: Iterable[Mapping[str, Any]],
    derived: Derived,
    *,
    now: str,
    generation: int | None,
    attempt: int,
) -> list[dict[str, Any]]:
    """The conditions of a phase: Running always (it carries the phase's reason), Suspended
    and Restarting once they have been true, Succeeded or Failed at the end."""
    phase = derived.phase
    conds = [dict(c) for c in conditions]

    def set_(type_: str, ok: bool, reason: str, message: str) -> list[dict[str, Any]]:
        return cond.set_condition(conds, type_, ok, reason, message, now=now, generation=generation)

    if phase == SUSPENDED:
        conds = set_(cond.SUSPENDED, True, derived.reason, derived.message)
    elif cond.get(conds, cond.SUSPENDED):
        conds = set_(cond.SUSPENDED, False, "Resumed", "the job is no longer suspended")
    if phase == RESTARTING:
        conds = set_(cond.RESTARTING, True, derived.reason, derived.message)
    elif cond.get(conds, cond.RESTARTING) and phase == RUNNING:
        conds = set_(cond.RESTARTING, False, ATTEMPT_STARTED, f"attempt {attempt} is running")
    elif cond.get(conds, cond.RESTARTING):
        # A new attempt's own problem (Unschedulable, ...), or the end: say which.
        conds = set_(
            cond.RESTARTING, False, derived.reason, f"attempt {attempt}: {derived.message}"
        )
    conds = set_(cond.RUNNING, phase == RUNNING, derived.reason, derived.message)
    if phase in FINAL_PHASES:
        final = cond.SUCCEEDED if phase == SUCCEEDED else cond.FAILED
        conds = set_(final, True, derived.reason, derived.message)
    return conds


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
    """One Event when the phase changed, or when a new reason blocks progress (a Warning).
    A new attempt is a transition too: two restarts in a row (the second attempt failed
    before it was seen Running) are two Events."""
    key_old = (old.get("phase"), phase_reason(old), old.get("attempt"))
    key_new = (new.get("phase"), phase_reason(new), new.get("attempt"))
    if key_new == key_old or not new.get("phase"):
        return []
    reason = key_new[1] or str(new["phase"])
    warning = new["phase"] == FAILED or reason in WARNING_REASONS
    if key_new[0] == key_old[0] and not warning:
        return []
    message = f"{new['phase']}: {new.get('message') or reason}"
    return [Event("Warning" if warning else "Normal", reason, message)]
