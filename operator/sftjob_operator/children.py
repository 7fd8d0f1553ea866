"""Preparing, creating and deleting an SFTJob's children: idempotent API calls; the
decisions are decide/setup.py's and decide/storage.py's.

A create of an object that exists is success (k8s.Api.create) when this SFTJob owns it (a
create repeated after a restart or a lost answer). One that another owner made, or that an
earlier SFTJob of the same name left behind and the garbage collector is deleting, is
refused (and retried) rather than adopted; an unowned claim is one that spec.storage.retain
kept, and is used.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

from sftjob_operator import k8s
from sftjob_operator.decide import Setup
from sftjob_operator.decide import setup as attempt_setup
from sftjob_operator.decide.storage import StorageCheck, storage_check
from sftjob_operator.status import timeutil
from sftjob_operator.status.observe import JobView
from sftjob_operator.trainer_identity import TrainerIdentities
from sftjob_operator.views import SftView

logger = logging.getLogger(__name__)


async def prepare(
    api: k8s.Api, view: SftView, body: Mapping[str, Any], attempt: int, started: str | None
) -> tuple[attempt_setup.Rendered, StorageCheck] | Setup:
    """The attempt's children and its storage check, or why the SFTJob is refused."""
    rendered = attempt_setup.render_attempt(body, view, attempt, started, timeutil.now())
    if isinstance(rendered, Setup):
        return rendered
    found, missing = await claim(api, view)
    storage = storage_check(view.spec, found, missing)
    return attempt_setup.storage_refused(storage) or (rendered, storage)


async def create_all(
    api: k8s.Api,
    identities: TrainerIdentities,
    view: SftView,
    children: list[dict[str, Any]],
) -> None:
    """Everything the Job needs, at once; then the Job, so its pods find them."""
    *first, job = children
    await asyncio.gather(
        identities.ensure(view.namespace),
        *(create(api, view, child) for child in first),
    )
    await create(api, view, job)


async def create(api: k8s.Api, view: SftView, child: Mapping[str, Any]) -> None:
    created = await api.create(child)
    if created:
        return
    kind, name = child["kind"], child["metadata"]["name"]
    existing = await api.get(child["apiVersion"], kind, view.namespace, name)
    if problem := adoption_problem(kind, existing, view.uid):
        raise k8s.ApiError(f"create {kind} {name}", 409, *problem)


# The reason of a child that is about to go away (an earlier SFTJob of the same name left
# it): retried soon, unlike a conflict a user has to resolve.
BEING_REPLACED = "BeingReplaced"


def adoption_problem(
    kind: str, existing: Mapping[str, Any] | None, uid: str
) -> tuple[str, str] | None:
    """(reason, message) when an object of a child's name that already exists is not this
    SFTJob's child; None when it is (a create repeated after a restart or a lost answer)."""
    if existing is None:
        return BEING_REPLACED, f"the {kind} of this name was just deleted; creating it again"
    meta = existing.get("metadata") or {}
    owners = meta.get("ownerReferences") or ()
    if any(o.get("uid") == uid for o in owners):
        return None
    if meta.get("deletionTimestamp") or any(o.get("kind") == "SFTJob" for o in owners):
        return BEING_REPLACED, (
            f"a {kind} of this name is left from an earlier SFTJob of this name and is being "
            "deleted; the operator creates this one's once it is gone"
        )
    if kind == "PersistentVolumeClaim" and not owners:
        return None  # a claim kept by spec.storage.retain: the job resumes from its outputs
    return "AlreadyExists", (
        f"a {kind} with this name exists and is not owned by this SFTJob; delete it or "
        "rename the SFTJob"
    )


async def delete_jobs(api: k8s.Api, namespace: str, jobs: Iterable[JobView]) -> None:
    for job in jobs:
        await api.delete("batch/v1", "Job", namespace, job.name)


async def claim(api: k8s.Api, view: SftView) -> tuple[Mapping[str, Any] | None, bool]:
    """The PersistentVolumeClaim the user brings (None when there is none to read or it
    cannot be read), and whether the apiserver said it does not exist."""
    name = view.spec.claim_name
    if name is None:
        return None, False
    try:
        found = await api.get("v1", "PersistentVolumeClaim", view.namespace, name)
    except k8s.ApiError as exc:
        logger.warning("cannot check the access modes of claim %s: %s", name, exc)
        return None, False
    return cast(Mapping[str, Any] | None, found), found is None
