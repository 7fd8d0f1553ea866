"""Pure functions from an SFTJob (and its normalized TRL config) to child manifests."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sftjob_operator.api.extensions import RecipeExtensions
from sftjob_operator.api.spec import JobSpec, read_spec
from sftjob_operator.render import configmap, job, pvc, rbac, service
from sftjob_operator.render.errors import RenderError
from sftjob_operator.render.meta import Owner
from sftjob_operator.render.plan import Plan, plan_from

__all__ = ["Owner", "Plan", "RenderError", "render_children", "trainer_identity"]

trainer_identity = rbac.trainer_identity


def render_children(
    body: Mapping[str, Any],
    trl_config: Mapping[str, Any],
    attempt: int = 1,
    active_deadline_seconds: int | None = None,
    extensions: RecipeExtensions | None = None,
    *,
    spec: JobSpec | None = None,
) -> list[dict[str, Any]]:
    """Every child of one attempt, in creation order (the Job last, once all it needs exists).

    `active_deadline_seconds` overrides the spec's for a later attempt (what is left of it).
    `extensions` are what the spec's extension fields ask for (normalize() finds them).
    `spec` is the body's spec as read already (read_spec), if the caller has it.
    """
    owner = Owner.from_body(body)
    extensions = extensions or RecipeExtensions()
    plan = plan_from(spec or read_spec(body.get("spec") or {}), trl_config)
    plan = dataclasses.replace(
        plan, extra_config_files=tuple(configmap.extension_files(extensions))
    )
    if active_deadline_seconds is not None and plan.active_deadline_seconds is not None:
        plan = dataclasses.replace(plan, active_deadline_seconds=active_deadline_seconds)
    children = [configmap.config_map(owner, plan, trl_config, extensions)]
    if plan.nodes > 1:  # one node rendezvouses on 127.0.0.1 and needs no DNS name
        children.append(service.service(owner))
    if claim := pvc.pvc(owner, plan):
        children.append(claim)
    children.append(job.job(owner, plan, attempt))
    return children
