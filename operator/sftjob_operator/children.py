"""Preparing, creating and deleting an SFTJob's children: idempotent API calls; the
decisions are decide/setup.py's and decide/storage.py's.

A create of an object that exists is success (k8s.Api.create), except for a Job that some
other owner made: that is refused rather than adopted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any, cast

from sftjob_operator import k8s
from sftjob_operator.decide import Setup
from sftjob_operator.decide import setup as attempt_setup
from sftjob_operator.decide.storage import StorageCheck, needs_claim, storage_check
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
    found = await claim(api, view) if needs_claim(view.spec) else None
    storage = storage_check(view.spec, found)
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
    if created or child["kind"] != "Job":
        return
    # The Job already existed: adopt it only if it is ours (same SFTJob uid).
    name = child["metadata"]["name"]
    existing = await api.get("batch/v1", "Job", view.namespace, name)
    owners = ((existing or {}).get("metadata") or {}).get("ownerReferences") or ()
    if existing is not None and not any(o.get("uid") == view.uid for o in owners):
        raise k8s.ApiError(
            f"create Job {name}",
            409,
            "AlreadyExists",
            "a Job with this name exists and is not owned by this SFTJob; "
            "delete it or rename the SFTJob",
        )


async def delete_jobs(api: k8s.Api, namespace: str, jobs: Iterable[JobView]) -> None:
    for job in jobs:
        await api.delete("batch/v1", "Job", namespace, job.name)


async def claim(api: k8s.Api, view: SftView) -> Mapping[str, Any] | None:
    """The PersistentVolumeClaim the user brings; None when it cannot be read."""
    name = view.spec.claim_name
    if name is None:
        return None
    try:
        found = await api.get("v1", "PersistentVolumeClaim", view.namespace, name)
    except k8s.ApiError as exc:
        logger.warning("cannot check the access modes of claim %s: %s", name, exc)
        return None
    return cast(Mapping[str, Any] | None, found)
