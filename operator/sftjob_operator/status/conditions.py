"""Conditions per Kubernetes conventions; lastTransitionTime moves only when status moves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Condition types the operator sets.
CONFIG_NORMALIZED = "ConfigNormalized"
CHILDREN_CREATED = "ChildrenCreated"
SUSPENDED = "Suspended"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
RESTARTING = "Restarting"
CHECKPOINT_STORAGE = "CheckpointStorage"
# kstatus' conditions (decide/health.py): what Flux, `kubectl wait` and GitOps tools read;
# Stalled also carries the training watchdog's finding (decide/watchdog.py).
READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
ADMITTED = "Admitted"  # Kueue admitted the current attempt (decide/queue.py)


def get(conditions: Iterable[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: Iterable[Mapping[str, Any]], type_: str) -> bool:
    cond = get(conditions, type_)
    return bool(cond and cond.get("status") == "True")


def set_condition(
    conditions: Iterable[Mapping[str, Any]],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    *,
    now: str,
    generation: int | None,
) -> list[dict[str, Any]]:
    """Return a new list with one condition set; other conditions keep their order."""
    value = "True" if status else "False"
    out: list[dict[str, Any]] = []
    found = False
    for cond in conditions:
        if cond.get("type") != type_:
            out.append(dict(cond))
            continue
        found = True
        moved = cond.get("status") != value
        out.append(
            _condition(
                type_,
                value,
                reason,
                message,
                now if moved else str(cond.get("lastTransitionTime") or now),
                generation,
            )
        )
    if not found:
        out.append(_condition(type_, value, reason, message, now, generation))
    return out


def _condition(
    type_: str, status: str, reason: str, message: str, when: str, generation: int | None
) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": when,
    }
    if generation is not None:
        cond["observedGeneration"] = generation
    return cond
