"""Refusal policy, and what creating an attempt's children says in status.

An attempt's children are rendered from the spec (pure). A spec that cannot be rendered,
or checkpoint storage the nodes cannot share, refuses the SFTJob: Failed, with the field
named, and no child is created. A claim that several nodes would share but that does not
exist yet holds the children back until it does (Pending). Otherwise the children are
created; the conditions say so (ChildrenCreated, ConfigNormalized, CheckpointStorage), and
status.outputDir says where the outputs land.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sftjob_operator.api.normalize import NormalizedConfig, SpecError, normalize
from sftjob_operator.decide.deadline import remaining_deadline
from sftjob_operator.decide.model import Condition, Setup
from sftjob_operator.decide.storage import StorageCheck
from sftjob_operator.render import RenderError, render_children
from sftjob_operator.status import conditions as cond
from sftjob_operator.status.phase import CREATE_FAILED, FAILED, Derived, NotCreated
from sftjob_operator.views import SftView


@dataclass(frozen=True)
class Rendered:
    """Every child of one attempt, in creation order (the Job last)."""

    children: list[dict[str, Any]]
    normalized: NormalizedConfig


def render_attempt(
    body: Mapping[str, Any], view: SftView, attempt: int, started: str | None, now: datetime
) -> Rendered | Setup:
    """The attempt's children, or the refusal of a spec that cannot be rendered."""
    spec = body.get("spec") or {}
    try:
        normalized = normalize(spec, view.spec)
        deadline = remaining_deadline(view.spec.active_deadline_seconds, started, attempt, now)
        children = render_children(
            body,
            normalized.trl_config,
            attempt,
            deadline,
            normalized.extensions,
            spec=view.spec,
        )
    except (SpecError, RenderError) as exc:
        return invalid_spec(f"{exc.field}: {exc.message}")
    return Rendered(children, normalized)


def invalid_spec(message: str) -> Setup:
    return Setup(
        conditions=(Condition(cond.CONFIG_NORMALIZED, False, "InvalidSpec", message),),
        refusal=Derived(FAILED, "InvalidSpec", message),
    )


def storage_refused(storage: StorageCheck) -> Setup | None:
    """The SFTJob's refusal, or why its children wait, when the storage check says so."""
    if storage.refuse:
        return Setup(
            conditions=(_storage(storage),),
            refusal=Derived(FAILED, storage.reason, storage.message),
        )
    if storage.wait:
        return Setup(
            conditions=(_storage(storage),),
            waiting=NotCreated(storage.reason, storage.message),
        )
    return None


def create_failed(error: str) -> Setup:
    return Setup(conditions=(Condition(cond.CHILDREN_CREATED, False, CREATE_FAILED, error),))


def created(attempt: int, normalized: NormalizedConfig, storage: StorageCheck) -> Setup:
    translations = tuple(t.message for t in normalized.translations)
    return Setup(
        conditions=(
            Condition(
                cond.CHILDREN_CREATED, True, "Created", f"the children of attempt {attempt} exist"
            ),
            Condition(
                cond.CONFIG_NORMALIZED,
                True,
                "Translated" if translations else "AsWritten",
                "; ".join(translations) or "the TRL configuration is used as written",
            ),
            _storage(storage),
        ),
        output_dir=normalized.trl_config["output_dir"],
        translations=translations,
    )


def _storage(storage: StorageCheck) -> Condition:
    return Condition(cond.CHECKPOINT_STORAGE, storage.ok, storage.reason, storage.message)
