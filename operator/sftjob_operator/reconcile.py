"""The operator's reconcile steps. Handlers call these; these call render, status and the API.

State kept in memory (and rebuilt from the cluster after a restart): the last status this
operator wrote per SFTJob (so a stale watch cache never causes a second write or a
duplicate Event), one lock per SFTJob, child-creation errors, and re-check timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import kopf

from sftjob_operator import k8s
from sftjob_operator.api.identity import API_VERSION, KIND
from sftjob_operator.api.normalize import SpecError, normalize
from sftjob_operator.render import RenderError, render_children
from sftjob_operator.status import conditions as cond
from sftjob_operator.status import timeutil
from sftjob_operator.status.observe import JobView, PodView, job_view
from sftjob_operator.status.phase import FAILED, FINAL_PHASES, Derived, Observed, Policy, derive
from sftjob_operator.status.update import Event, next_status, transition_events, with_condition
from sftjob_operator.views import SftView, sft_view

logger = logging.getLogger(__name__)

Key = tuple[str, str]
# Status keys this operator owns; everything else in status (kopf's, progress) is left alone.
OWNED_STATUS_KEYS = (
    "phase",
    "message",
    "conditions",
    "observedGeneration",
    "startTime",
    "completionTime",
    "attempt",
    "restarts",
)
CREATE_RETRY_SECONDS = 30
# Child events arrive in bursts (every pod of a job changes at once); one status
# derivation per burst keeps writes per SFTJob low.
DEBOUNCE_SECONDS = 0.5
RETRY_SECONDS = 5.0


@dataclass
class Indexes:
    """Lookups into kopf's in-memory indexes (set from handler kwargs)."""

    sftjobs: Callable[[Key], SftView | None]
    jobs: Callable[[Key], Iterable[JobView]]
    pods: Callable[[Key], Iterable[PodView]]


class Reconciler:
    def __init__(self, api: k8s.Api, policy: Policy) -> None:
        self.api = api
        self.policy = policy
        self.indexes: Indexes | None = None
        self._written: dict[Key, tuple[str, dict[str, Any]]] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._create_errors: dict[Key, str] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._pending: dict[Key, asyncio.Future[None]] = {}

    # -- entry points ---------------------------------------------------------------

    async def ensure(self, body: Mapping[str, Any]) -> None:
        """Create every child of the current attempt (idempotent), then refresh status."""
        view = sft_view(body)
        if view.deleting:
            return
        if view.status.get("phase") in FINAL_PHASES:
            await self.refresh(view.key, seen=view)
            return
        try:
            normalized = normalize(body.get("spec") or {})
            attempt = int(view.status.get("attempt") or 1)
            children = render_children(body, normalized.trl_config, attempt)
        except (SpecError, RenderError) as exc:
            field = getattr(exc, "field", "spec")
            message = f"{field}: {getattr(exc, 'message', str(exc))}"
            await self.refresh(
                view.key,
                seen=view,
                override=Derived(FAILED, "InvalidSpec", message),
                extra=_config_condition(False, "InvalidSpec", message),
            )
            return
        try:
            # Everything the Job needs, at once; then the Job, so its pods find them.
            *first, job = children
            await asyncio.gather(*(self._create(view, child) for child in first))
            await self._create(view, job)
        except k8s.ApiError as exc:
            if exc.status == 403 and "being terminated" in str(exc):
                return  # the namespace is going away, and the SFTJob with it
            self._create_errors[view.key] = str(exc)
            await self.refresh(
                view.key,
                seen=view,
                extra=_children_condition(False, "CreateFailed", str(exc)),
            )
            raise kopf.TemporaryError(str(exc), delay=CREATE_RETRY_SECONDS) from exc
        self._create_errors.pop(view.key, None)
        # The watch may not have delivered the Job yet; we know it exists.
        created_job = job_view(children[-1])
        translations = tuple(normalized.translations)
        translated = "; ".join(t.message for t in translations)
        await self.refresh(
            view.key,
            seen=view,
            assumed_job=created_job,
            extra=_compose(
                _children_condition(True, "Created", "ConfigMap, Service and Job exist"),
                _config_condition(
                    True,
                    "Translated" if translations else "AsWritten",
                    translated or "the TRL configuration is used as written",
                ),
            ),
            first_events=[Event("Warning", "ConfigTranslated", t.message) for t in translations],
        )

    async def refresh(
        self,
        key: Key,
        *,
        seen: SftView | None = None,
        override: Derived | None = None,
        extra: Callable[[dict[str, Any], str, int | None], dict[str, Any]] | None = None,
        first_events: list[Event] | None = None,
        assumed_job: JobView | None = None,
    ) -> None:
        """Re-derive status from the observed children and write it once, if it changed."""
        async with self._lock(key):
            view = self._view(key) or seen
            if view is None or view.deleting:
                return
            now = timeutil.now()
            stamp = timeutil.fmt(now)
            current = self._current_status(view)
            attempt = int(current.get("attempt") or 1)
            job = self._job(key, attempt) or assumed_job
            derived = override or derive(
                Observed(
                    nodes=view.nodes,
                    job=job,
                    pods=[p for p in self._pods(key) if p.attempt == attempt],
                    queued=view.queued,
                    user_suspended=view.suspend,
                    create_error=self._create_errors.get(key),
                ),
                now,
                self.policy,
            )
            new = next_status(
                current, derived, now=stamp, generation=view.generation, attempt=attempt
            )
            new.setdefault("restarts", 0)
            if extra:
                new = extra(new, stamp, view.generation)
            if new != current:
                patched = await self.api.patch(
                    API_VERSION,
                    KIND,
                    view.namespace,
                    view.name,
                    {"status": {k: new[k] for k in OWNED_STATUS_KEYS if k in new}},
                    subresource="status",
                )
                if patched is None:
                    return  # deleted meanwhile
                self._written[key] = (view.uid, new)
                events = transition_events(current, new)
                if first_events and not _had_condition(current, cond.CONFIG_NORMALIZED):
                    events = [*first_events, *events]
                for event in events:
                    kopf.event(
                        cast(kopf.Body, view.ref),
                        type=event.type,
                        reason=event.reason,
                        message=event.message,
                    )
            await self._act(view, new, job)
            self._schedule(view, new, derived, now.timestamp())

    def request_refresh(self, key: Key, delay: float = DEBOUNCE_SECONDS) -> None:
        """Refresh soon; requests within the debounce window collapse into one."""
        if key not in self._pending:
            self._pending[key] = asyncio.ensure_future(self._debounced(key, delay))

    async def _debounced(self, key: Key, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            self._pending.pop(key, None)
        try:
            await self.refresh(key)
        except Exception:
            logger.exception("refreshing the status of %s/%s failed; retrying", *key)
            self.request_refresh(key, RETRY_SECONDS)

    async def mirror_suspend(self, key: Key) -> None:
        """spec.suspend -> the Job's suspend (Kueue decides unsuspension of queued jobs)."""
        view = self._view(key)
        if view is None:
            return
        current = self._current_status(view)
        if current.get("phase") in FINAL_PHASES:
            return
        job = self._job(key, int(current.get("attempt") or 1))
        if job is None:
            return
        desired = True if view.suspend else (None if view.queued else False)
        if desired is not None and desired != job.suspended and not _job_finished(job):
            await self.api.patch(
                "batch/v1", "Job", view.namespace, job.name, {"spec": {"suspend": desired}}
            )

    def forget(self, key: Key) -> None:
        self._written.pop(key, None)
        self._locks.pop(key, None)
        self._create_errors.pop(key, None)
        if timer := self._timers.pop(key, None):
            timer.cancel()
        if pending := self._pending.pop(key, None):
            pending.cancel()

    # -- helpers --------------------------------------------------------------------

    async def _create(self, view: SftView, child: Mapping[str, Any]) -> None:
        created = await self.api.create(child)
        if created or child["kind"] != "Job":
            return
        # The Job already existed: adopt it only if it is ours (same SFTJob uid).
        existing = await self.api.get("batch/v1", "Job", view.namespace, child["metadata"]["name"])
        owners = ((existing or {}).get("metadata") or {}).get("ownerReferences") or ()
        if existing is not None and not any(o.get("uid") == view.uid for o in owners):
            raise k8s.ApiError(
                f"create Job {child['metadata']['name']}",
                409,
                "AlreadyExists",
                "a Job with this name exists and is not owned by this SFTJob; "
                "delete it or rename the SFTJob",
            )

    async def _act(self, view: SftView, status: Mapping[str, Any], job: JobView | None) -> None:
        """A finished SFTJob keeps no running pods (hang guard, image pull failures)."""
        if status.get("phase") not in FINAL_PHASES or job is None:
            return
        if job.active > 0 and not job.suspended and not _job_finished(job):
            logger.info("stopping the remaining pods of Job %s/%s", view.namespace, job.name)
            await self.api.patch(
                "batch/v1", "Job", view.namespace, job.name, {"spec": {"suspend": True}}
            )

    def _schedule(
        self, view: SftView, status: Mapping[str, Any], derived: Derived, now: float
    ) -> None:
        delay: float | None = derived.recheck_after
        action: Callable[[], Any] = lambda: self._debounced(view.key, 0)  # noqa: E731
        if status.get("phase") in FINAL_PHASES and view.ttl_seconds_after_finished is not None:
            done = timeutil.parse(status.get("completionTime"))
            expires = (done.timestamp() if done else now) + view.ttl_seconds_after_finished
            delay = max(expires - now, 0.0)
            action = lambda: self._expire(view.key)  # noqa: E731
        if old := self._timers.pop(view.key, None):
            old.cancel()
        if delay is None:
            return
        loop = asyncio.get_running_loop()
        self._timers[view.key] = loop.call_later(
            max(delay, 0.0) + 0.5, lambda: asyncio.ensure_future(action())
        )

    async def _expire(self, key: Key) -> None:
        view = self._view(key)
        if view is None:
            return
        logger.info("ttlSecondsAfterFinished elapsed; deleting SFTJob %s/%s", *key)
        await self.api.delete(API_VERSION, KIND, view.namespace, view.name, uid=view.uid)

    def _lock(self, key: Key) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def _view(self, key: Key) -> SftView | None:
        return self.indexes.sftjobs(key) if self.indexes else None

    def _job(self, key: Key, attempt: int) -> JobView | None:
        jobs = [j for j in (self.indexes.jobs(key) if self.indexes else ()) if j.attempt == attempt]
        return jobs[0] if jobs else None

    def _pods(self, key: Key) -> Iterable[PodView]:
        return self.indexes.pods(key) if self.indexes else ()

    def _current_status(self, view: SftView) -> dict[str, Any]:
        written = self._written.get(view.key)
        if written and written[0] == view.uid:
            return dict(written[1])
        return dict(view.status)


def _job_finished(job: JobView) -> bool:
    return any(
        job.condition(t) for t in ("Complete", "Failed", "SuccessCriteriaMet", "FailureTarget")
    )


def _had_condition(status: Mapping[str, Any], type_: str) -> bool:
    return cond.get(status.get("conditions") or (), type_) is not None


def _children_condition(
    ok: bool, reason: str, message: str
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    def apply(status: dict[str, Any], now: str, generation: int | None) -> dict[str, Any]:
        return with_condition(
            status, cond.CHILDREN_CREATED, ok, reason, message, now=now, generation=generation
        )

    return apply


def _config_condition(
    ok: bool, reason: str, message: str
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    def apply(status: dict[str, Any], now: str, generation: int | None) -> dict[str, Any]:
        return with_condition(
            status, cond.CONFIG_NORMALIZED, ok, reason, message, now=now, generation=generation
        )

    return apply


def _compose(
    *fns: Callable[[dict[str, Any], str, int | None], dict[str, Any]],
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    def apply(status: dict[str, Any], now: str, generation: int | None) -> dict[str, Any]:
        for fn in fns:
            status = fn(status, now, generation)
        return status

    return apply
