"""The operator's reconcile steps. Handlers call these; these call render, status and the API.

State kept in memory (and rebuilt from the cluster after a restart): the last status this
operator wrote per SFTJob (so a stale watch cache never causes a second write or a
duplicate Event), one lock per SFTJob, child-creation errors, and re-check timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import kopf

from sftjob_operator import k8s
from sftjob_operator.api.identity import API_VERSION, KIND
from sftjob_operator.api.normalize import SpecError, normalize
from sftjob_operator.metrics import JobSample, OperatorCounters
from sftjob_operator.progress_sink import DEFAULT_INTERVAL_SECONDS as DEFAULT_PROGRESS_INTERVAL
from sftjob_operator.progress_sink import ProgressSink
from sftjob_operator.render import RenderError, names, render_children
from sftjob_operator.status import conditions as cond
from sftjob_operator.status import progress, restart, timeutil
from sftjob_operator.status.observe import JobView, PodView, job_view
from sftjob_operator.status.phase import (
    FAILED,
    FINAL_PHASES,
    PENDING,
    RESTARTING,
    STOP_JOB,
    Derived,
    Observed,
    Policy,
    derive,
)
from sftjob_operator.status.storage import StorageCheck, storage_check
from sftjob_operator.status.update import Event, next_status, transition_events, with_condition
from sftjob_operator.trainer_identity import TrainerIdentities
from sftjob_operator.views import SftView, sft_view

logger = logging.getLogger(__name__)

Key = tuple[str, str]
# Status keys the lifecycle writes own; progress writes own PROGRESS_STATUS_KEYS; kopf's
# own bookkeeping is left alone.
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
PROGRESS_STATUS_KEYS = ("progress", "lastCheckpoint")
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
    all_sftjobs: Callable[[], Iterable[SftView]]


class Reconciler:
    def __init__(
        self, api: k8s.Api, policy: Policy, progress_interval: float | None = None
    ) -> None:
        self.api = api
        self.policy = policy
        self.indexes: Indexes | None = None
        self.identities = TrainerIdentities(api)
        self._progress_sink: ProgressSink[Key, progress.Record] = ProgressSink(
            self._write_progress,
            interval=DEFAULT_PROGRESS_INTERVAL if progress_interval is None else progress_interval,
        )
        # Per SFTJob: (uid, {"progress": ..., "lastCheckpoint": ...}) as last written.
        self._progress_state: dict[Key, tuple[str, dict[str, Any]]] = {}
        # Per SFTJob: (attempt, when this operator started it), until its Job is seen.
        self._attempt_started: dict[Key, tuple[int, datetime]] = {}
        self._written: dict[Key, tuple[str, dict[str, Any]]] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._create_errors: dict[Key, str] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._pending: dict[Key, asyncio.Future[None]] = {}
        # Per SFTJob: (uid, newest attempt) whose children this process created or refused,
        # or whose creation a restart has claimed.
        self._ensured: dict[Key, tuple[str, int]] = {}
        # Per SFTJob: held while children are created, so a restart never interleaves
        # with an ensure of the attempt it replaces.
        self._creating: dict[Key, asyncio.Lock] = {}
        self._create_retries: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        # For the metrics: phases entered, and failed child creations.
        self.transitions: Counter[str] = Counter()
        self.create_failures = 0

    # -- entry points ---------------------------------------------------------------

    async def reconcile(self, body: Mapping[str, Any]) -> None:
        """On every SFTJob event (the initial listing included): the current attempt's
        children exist, created once per attempt by this process, and the Job's suspend
        follows spec.suspend. Level-triggered, so kopf keeps no state on the object."""
        view = sft_view(body)
        if view.deleting:
            return
        attempt = self._attempt(view.key, self._current_status(view))
        try:
            if not self._is_ensured(view, attempt):
                await self.ensure(body)
            elif await self.mirror_suspend(view.key):
                await self.refresh(view.key, seen=view)
        except Exception:
            # kopf does not retry event handlers; a lost connection must not strand the job.
            logger.exception("reconciling %s/%s failed; retrying", *view.key)
            self._retry_ensure(view.key, RETRY_SECONDS)

    async def ensure(self, body: Mapping[str, Any]) -> None:
        """Create every child of the current attempt (idempotent), then refresh status."""
        view = sft_view(body)
        async with self._creating.setdefault(view.key, asyncio.Lock()):
            await self._ensure(view, body)

    async def _ensure(self, view: SftView, body: Mapping[str, Any]) -> None:
        if view.deleting:
            return
        current = self._current_status(view)
        attempt = self._attempt(view.key, current)
        if self._is_ensured(view, attempt + 1):
            return  # a restart has begun the next attempt: this one must not be recreated
        if view.status.get("phase") in FINAL_PHASES:
            self._mark_ensured(view, attempt)
            await self.refresh(view.key, seen=view)
            return
        try:
            normalized = normalize(body.get("spec") or {})
            deadline = restart.remaining_deadline(
                (body.get("spec") or {}).get("activeDeadlineSeconds"),
                current.get("startTime"),
                attempt,
                timeutil.now(),
            )
            children = render_children(
                body, normalized.trl_config, attempt, deadline, normalized.extensions
            )
        except (SpecError, RenderError) as exc:
            self._mark_ensured(view, attempt)
            field = getattr(exc, "field", "spec")
            message = f"{field}: {getattr(exc, 'message', str(exc))}"
            await self.refresh(
                view.key,
                seen=view,
                override=Derived(FAILED, "InvalidSpec", message),
                extra=_config_condition(False, "InvalidSpec", message),
            )
            return
        storage = storage_check(body.get("spec") or {}, await self._claim(view, body))
        if storage.refuse:
            self._mark_ensured(view, attempt)
            await self.refresh(
                view.key,
                seen=view,
                override=Derived(FAILED, storage.reason, storage.message),
                extra=_storage_condition(storage),
            )
            return
        await self._delete_older_attempts(view, attempt)
        try:
            # Everything the Job needs, at once; then the Job, so its pods find them.
            *first, job = children
            await asyncio.gather(
                self.identities.ensure(view.namespace),
                *(self._create(view, child) for child in first),
            )
            await self._create(view, job)
        except k8s.ApiError as exc:
            if exc.status == 403 and "being terminated" in str(exc):
                return  # the namespace is going away, and the SFTJob with it
            self._create_errors[view.key] = str(exc)
            self.create_failures += 1
            self.identities.forget(view.namespace)
            self._retry_ensure(view.key)
            await self.refresh(
                view.key,
                seen=view,
                extra=_children_condition(False, "CreateFailed", str(exc)),
            )
            return
        self._mark_ensured(view, attempt)
        self._create_errors.pop(view.key, None)
        if retry := self._create_retries.pop(view.key, None):
            retry.cancel()
        # The watch may not have delivered the Job yet; we know it exists.
        created_job = job_view(children[-1])
        translations = tuple(normalized.translations)
        translated = "; ".join(t.message for t in translations)
        await self.refresh(
            view.key,
            seen=view,
            assumed_job=created_job,
            extra=_compose(
                _children_condition(True, "Created", f"the children of attempt {attempt} exist"),
                _config_condition(
                    True,
                    "Translated" if translations else "AsWritten",
                    translated or "the TRL configuration is used as written",
                ),
                _storage_condition(storage),
                _output_dir(normalized.trl_config["output_dir"]),
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
        """Re-derive status from the observed children and write it once, if it changed.

        A failed attempt is restarted here: the status (attempt+1, restarts+1, Restarting)
        is written first, then the next attempt's Job is created, so an operator restart in
        between resumes with the new attempt and never runs two.
        """
        begin: tuple[int, JobView | None] | None = None
        async with self._lock(key):
            view = self._view(key) or seen
            if view is None or view.deleting:
                return
            now = timeutil.now()
            stamp = timeutil.fmt(now)
            current = self._current_status(view)
            attempt = self._attempt(key, current)
            job = self._job(key, attempt) or assumed_job
            pods = [p for p in self._pods(key) if p.attempt == attempt]
            derived = override or derive(
                Observed(
                    nodes=view.spec.nodes,
                    job=job,
                    pods=pods,
                    queued=view.queued,
                    user_suspended=view.spec.suspend,
                    create_error=self._create_errors.get(key),
                ),
                now,
                self.policy,
            )
            progress_before = self._progress_of(view)
            progress_held = self._progress_state.get(key)
            restarts = int(current.get("restarts") or 0)
            next_attempt = attempt
            if override is None and current.get("phase") not in FINAL_PHASES:
                if derived.phase in FINAL_PHASES or restart.failure(job, pods):
                    # The newest record first: it may name a newer checkpoint, or 100%.
                    self._drain_progress(view, attempt)
                decision = restart.decide(
                    restart.Attempt(
                        number=attempt,
                        job=job,
                        pods=pods,
                        restarts=restarts,
                        backoff_limit=view.spec.backoff_limit,
                        last_checkpoint=self._progress_of(view).get("lastCheckpoint"),
                    )
                )
                if decision and decision.next_attempt:
                    derived = Derived(RESTARTING, decision.reason, decision.message)
                    next_attempt, restarts = decision.next_attempt, restarts + 1
                    begin = (next_attempt, job)
                    # _begin_attempt creates it, after the failed one is gone; not events.
                    self._mark_ensured(view, next_attempt)
                    self._reset_progress(view)
                elif decision:
                    derived = Derived(
                        FAILED, decision.reason, decision.message, action=STOP_JOB, job_failed=True
                    )
                elif current.get("phase") == RESTARTING and derived.phase == PENDING:
                    # The new attempt's pods are starting: still Restarting, until Running.
                    derived = Derived(
                        RESTARTING,
                        "Restarting",
                        str(current.get("message") or derived.message),
                        recheck_after=derived.recheck_after,
                    )
            new = next_status(
                current, derived, now=stamp, generation=view.generation, attempt=next_attempt
            )
            new["restarts"] = restarts
            if extra:
                new = extra(new, stamp, view.generation)
            progress_patch = _progress_patch(progress_before, self._progress_of(view))
            if new != current or progress_patch:
                body = {k: new[k] for k in OWNED_STATUS_KEYS if k in new and new != current}
                try:
                    patched = await self.api.patch(
                        API_VERSION,
                        KIND,
                        view.namespace,
                        view.name,
                        {"status": {**body, **progress_patch}},
                        subresource="status",
                    )
                except Exception:
                    # Not written: the next try starts from what the server has.
                    if progress_held is None:
                        self._progress_state.pop(key, None)
                    else:
                        self._progress_state[key] = progress_held
                    raise
                if not patched:
                    return  # deleted meanwhile
                self._written[key] = (view.uid, new)
                if new.get("phase") and new.get("phase") != current.get("phase"):
                    self.transitions[new["phase"]] += 1
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
        if begin:
            # A task, not awaited: a refresh may run inside an ensure, which holds the
            # creation lock that the next attempt takes.
            task = asyncio.ensure_future(self._begin_attempt(key, *begin))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def job_samples(self) -> list[JobSample]:
        """Every SFTJob as this operator last wrote its status (for the metrics)."""
        samples = []
        for view in self.indexes.all_sftjobs() if self.indexes else ():
            status = self._current_status(view)
            samples.append(
                JobSample(
                    namespace=view.namespace,
                    name=view.name,
                    phase=str(status.get("phase") or ""),
                    restarts=int(status.get("restarts") or 0),
                    progress=self._progress_of(view).get("progress") or {},
                )
            )
        return samples

    def counters(self) -> OperatorCounters:
        return OperatorCounters(
            api_writes=dict(self.api.writes),
            transitions=dict(self.transitions),
            create_failures=self.create_failures,
        )

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

    async def mirror_suspend(self, key: Key) -> bool:
        """spec.suspend -> the Job's suspend (Kueue decides unsuspension of queued jobs).
        True when the Job was patched."""
        view = self._view(key)
        if view is None:
            return False
        current = self._current_status(view)
        if current.get("phase") in FINAL_PHASES:
            return False
        job = self._job(key, int(current.get("attempt") or 1))
        if job is None:
            return False
        desired = True if view.spec.suspend else (None if view.queued else False)
        if desired is None or desired == job.suspended or _job_finished(job):
            return False
        await self.api.patch(
            "batch/v1", "Job", view.namespace, job.name, {"spec": {"suspend": desired}}
        )
        return True

    def on_progress(self, key: Key, text: Any) -> None:
        """A config ConfigMap (the progress channel) changed: keep its record if valid (O(1),
        never blocks)."""
        if text is None:
            return
        record, why = progress.try_parse(text)
        if record is None:
            logger.debug("ignoring the progress record of %s/%s: %s", *key, why)
            return
        self._progress_sink.offer(key, record, urgent=record.final)

    def forget(self, key: Key) -> None:
        self._progress_sink.forget(key)
        self._progress_state.pop(key, None)
        self._attempt_started.pop(key, None)
        self._written.pop(key, None)
        self._locks.pop(key, None)
        self._create_errors.pop(key, None)
        self._ensured.pop(key, None)
        self._creating.pop(key, None)
        for timers in (self._timers, self._create_retries):
            if timer := timers.pop(key, None):
                timer.cancel()
        if pending := self._pending.pop(key, None):
            pending.cancel()

    def _retry_ensure(self, key: Key, delay: float = CREATE_RETRY_SECONDS) -> None:
        """Creating a child failed (quota, admission): try again later, from the server's copy."""

        async def again() -> None:
            self._create_retries.pop(key, None)
            try:
                body = await self.api.get(API_VERSION, KIND, *key)
                if body is not None:
                    await self.reconcile(body)
            except Exception as exc:
                logger.warning("creating the children of %s/%s failed (%s); retrying", *key, exc)
                self._retry_ensure(key, delay)

        if old := self._create_retries.pop(key, None):
            old.cancel()
        loop = asyncio.get_running_loop()
        self._create_retries[key] = loop.call_later(delay, lambda: asyncio.ensure_future(again()))

    # -- restarts ---------------------------------------------------------------------

    async def _begin_attempt(self, key: Key, attempt: int, failed: JobView | None) -> None:
        """Replace the failed attempt's Job with attempt `attempt` (status already says so)."""
        view = self._view(key)
        if view is None:
            return
        try:
            async with self._creating.setdefault(key, asyncio.Lock()):
                if failed is not None:
                    await self.api.delete("batch/v1", "Job", view.namespace, failed.name)
                # The last attempt's record must not pass for this attempt's progress.
                self._progress_sink.take(key)
                self._attempt_started[key] = (attempt, timeutil.now())
                await self.api.patch(
                    "v1",
                    "ConfigMap",
                    view.namespace,
                    names.config_map(view.name),
                    {"data": {progress.PROGRESS_KEY: None}},
                )
                body = await self.api.get(API_VERSION, KIND, view.namespace, view.name)
                if body is not None:
                    await self._ensure(sft_view(body), body)
        except Exception as exc:
            logger.warning("starting attempt %d of %s/%s failed (%s); retrying", attempt, *key, exc)
            self._ensured.pop(key, None)
            loop = asyncio.get_running_loop()
            loop.call_later(
                RETRY_SECONDS,
                lambda: asyncio.ensure_future(self._begin_attempt(key, attempt, None)),
            )

    async def _delete_older_attempts(self, view: SftView, attempt: int) -> None:
        for job in self.indexes.jobs(view.key) if self.indexes else ():
            if job.attempt < attempt:
                await self.api.delete("batch/v1", "Job", view.namespace, job.name)

    def _attempt(self, key: Key, status: Mapping[str, Any]) -> int:
        """The current attempt: the status says so, unless a newer attempt's Job exists."""
        jobs = self.indexes.jobs(key) if self.indexes else ()
        return max([int(status.get("attempt") or 1), *(j.attempt for j in jobs)])

    async def _claim(self, view: SftView, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        name = ((body.get("spec") or {}).get("storage") or {}).get("claimName")
        if not name or view.spec.nodes < 2:
            return None
        try:
            claim = await self.api.get("v1", "PersistentVolumeClaim", view.namespace, name)
        except k8s.ApiError as exc:
            logger.warning("cannot check the access modes of claim %s: %s", name, exc)
            return None
        return cast(Mapping[str, Any] | None, claim)

    # -- progress ---------------------------------------------------------------------

    def _attempt_start(self, key: Key, attempt: int) -> datetime | None:
        job = self._job(key, attempt)
        if job is not None and job.created:
            return timeutil.parse(job.created)
        started = self._attempt_started.get(key)
        return started[1] if started and started[0] == attempt else None

    def _progress_of(self, view: SftView) -> dict[str, Any]:
        held = self._progress_state.get(view.key)
        if held and held[0] == view.uid:
            return dict(held[1])
        return {k: view.status[k] for k in PROGRESS_STATUS_KEYS if k in view.status}

    def _accept(self, view: SftView, record: progress.Record, attempt: int) -> dict[str, Any]:
        """The status patch for a record of the current attempt ({} for none), remembered."""
        if not progress.is_current(record, attempt, self._attempt_start(view.key, attempt)):
            logger.debug("ignoring a progress record of an earlier attempt of %s/%s", *view.key)
            return {}
        old = self._progress_of(view)
        new = {**old, **progress.apply(old, record)}
        self._progress_state[view.key] = (view.uid, new)
        return _progress_patch(old, new)

    def _reset_progress(self, view: SftView) -> None:
        state = self._progress_of(view)
        fresh = progress.for_new_attempt(state.get("progress") or {})
        self._progress_state[view.key] = (view.uid, {**state, "progress": fresh})

    def _drain_progress(self, view: SftView, attempt: int) -> dict[str, Any]:
        record = self._progress_sink.take(view.key)
        return self._accept(view, record, attempt) if record else {}

    async def _write_progress(self, key: Key, record: progress.Record) -> None:
        """Only status.progress and status.lastCheckpoint; never phase or conditions."""
        view = self._view(key)
        if view is None or view.deleting:
            return
        patch = self._accept(view, record, self._attempt(key, self._current_status(view)))
        if patch:
            await self.api.patch(
                API_VERSION,
                KIND,
                view.namespace,
                view.name,
                {"status": patch},
                subresource="status",
            )

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
        if status.get("phase") in FINAL_PHASES and view.spec.ttl_seconds_after_finished is not None:
            done = timeutil.parse(status.get("completionTime"))
            expires = (done.timestamp() if done else now) + view.spec.ttl_seconds_after_finished
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

    def _is_ensured(self, view: SftView, attempt: int) -> bool:
        ensured = self._ensured.get(view.key)
        return ensured is not None and ensured[0] == view.uid and ensured[1] >= attempt

    def _mark_ensured(self, view: SftView, attempt: int) -> None:
        if not self._is_ensured(view, attempt):
            self._ensured[view.key] = (view.uid, attempt)

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


def _progress_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch from old to new progress keys (a dropped sub-field becomes null)."""
    out: dict[str, Any] = {}
    if new.get("lastCheckpoint") and new.get("lastCheckpoint") != old.get("lastCheckpoint"):
        out["lastCheckpoint"] = new["lastCheckpoint"]
    before, after = old.get("progress") or {}, new.get("progress") or {}
    if after != before:
        out["progress"] = {**{k: None for k in before if k not in after}, **after}
    return out


def _condition(
    type_: str, ok: bool, reason: str, message: str
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    """A status transform that sets one condition (applied with the write's time)."""

    def apply(status: dict[str, Any], now: str, generation: int | None) -> dict[str, Any]:
        return with_condition(status, type_, ok, reason, message, now=now, generation=generation)

    return apply


def _storage_condition(
    storage: StorageCheck,
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    return _condition(cond.CHECKPOINT_STORAGE, storage.ok, storage.reason, storage.message)


def _output_dir(path: str) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    """status.outputDir: where, on the job's storage, checkpoints and the model are written."""

    def apply(status: dict[str, Any], now: str, generation: int | None) -> dict[str, Any]:
        return {**status, "outputDir": path}

    return apply


def _children_condition(
    ok: bool, reason: str, message: str
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    return _condition(cond.CHILDREN_CREATED, ok, reason, message)


def _config_condition(
    ok: bool, reason: str, message: str
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    return _condition(cond.CONFIG_NORMALIZED, ok, reason, message)


def _had_condition(status: Mapping[str, Any], type_: str) -> bool:
    return cond.get(status.get("conditions") or (), type_) is not None


def _compose(
    *fns: Callable[[dict[str, Any], str, int | None], dict[str, Any]],
) -> Callable[[dict[str, Any], str, int | None], dict[str, Any]]:
    def apply(status: dict[str, Any], now: str, generation: int | None) -> dict[str, Any]:
        for fn in fns:
            status = fn(status, now, generation)
        return status

    return apply
