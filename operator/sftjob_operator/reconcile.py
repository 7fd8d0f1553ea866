"""The executor: observe an SFTJob and its children, call the pure decision, apply it.

One reconcile of a job holds its memory's lock: it observes (kopf's in-memory indexes and
the job's JobMemory), decides (decide/), writes the status once (progress included),
posts the Events after the write, then applies the actions (stop a Job, begin the next
attempt, delete an expired SFTJob) and schedules the next time-based check. Creating an
attempt's children (ensure) happens under the same lock and ends with such a reconcile.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

import kopf

from sftjob_operator import children, k8s
from sftjob_operator.api.identity import API_VERSION, KIND
from sftjob_operator.decide import (
    Action,
    BeginAttempt,
    Decision,
    Observation,
    Setup,
    SetWorkloadActive,
    StopJob,
    decide,
    health,
)
from sftjob_operator.decide import setup as attempt_setup
from sftjob_operator.decide.attempt import children_of, current_attempt, older_jobs
from sftjob_operator.decide.queue import suspend_changed
from sftjob_operator.decide.suspend import mirrored
from sftjob_operator.memory import JobMemory, Memories, job_samples
from sftjob_operator.metrics import JobSample, OperatorCounters
from sftjob_operator.progress_sink import DEFAULT_INTERVAL_SECONDS as DEFAULT_PROGRESS_INTERVAL
from sftjob_operator.progress_sink import ProgressSink
from sftjob_operator.refused_pods import read_refused_pod
from sftjob_operator.render import names
from sftjob_operator.render.child_fields import in_sftjob_fields
from sftjob_operator.status import progress, timeutil
from sftjob_operator.status.observe import (
    JobView,
    job_view,
)
from sftjob_operator.status.phase import CREATE_FAILED, FINAL_PHASES, NotCreated, Policy
from sftjob_operator.trainer_identity import TrainerIdentities
from sftjob_operator.views import Indexes, Key, SftView, sft_view
from sftjob_operator.workloads import read_workload, set_workload_active, stop_by_workload

logger = logging.getLogger(__name__)


CREATE_RETRY_SECONDS = 30
# A missing claim that a GitOps sync is about to apply: look again soon.
WAIT_RETRY_SECONDS = 10.0
# Child events arrive in bursts (every pod of a job changes at once); one status
# derivation per burst keeps writes per SFTJob low.
DEBOUNCE_SECONDS = 0.5
RETRY_SECONDS = 5.0
# Timers fire this much after a rule's time, so the rule holds when it is checked.
TIMER_SLACK_SECONDS = 0.5


class Reconciler:
    def __init__(
        self, api: k8s.Api, policy: Policy, progress_interval: float | None = None
    ) -> None:
        self.api = api
        self.policy = policy
        self.indexes = Indexes()
        self.indexed = False  # the handlers have set the indexes
        self.identities = TrainerIdentities(api)
        self.memories = Memories()
        self._progress_sink: ProgressSink[Key, progress.Record] = ProgressSink(
            self._write_progress,
            interval=DEFAULT_PROGRESS_INTERVAL if progress_interval is None else progress_interval,
        )
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
        memory = self.memories.of(view.key, view.uid)
        attempt = current_attempt(memory.status(view), self.indexes.jobs(view.key))
        try:
            if memory.ensured < attempt:
                async with memory.lock:
                    await self._ensure(view, body, memory)
            elif (
                await self.mirror_suspend(view.key)
                or health.unobserved(memory.status(view), view.generation)
                or suspend_changed(view.queue, view.spec.suspend, memory.status(view))
            ):
                await self.refresh(view.key, seen=view)
        except Exception as exc:
            # kopf does not retry event handlers; a lost connection must not strand the job.
            k8s.log_retry("reconciling", view.key, exc)
            self._retry_ensure(view.key, RETRY_SECONDS)

    async def refresh(
        self, key: Key, *, seen: SftView | None = None, record: progress.Record | None = None
    ) -> None:
        """Re-derive status from the observed children and write it once, if it changed."""
        view = self.indexes.sftjobs(key) or seen
        memory = self.memories.of(key, view.uid if view else "")
        async with memory.lock:
            await self._refresh(key, memory, seen=seen, record=record)

    def request_refresh(self, key: Key, delay: float = DEBOUNCE_SECONDS) -> None:
        """Refresh soon; requests within the debounce window collapse into one."""
        memory = self.memories.of(key)
        if memory.refresh is None:
            memory.refresh = asyncio.ensure_future(self._debounced(key, memory, delay))

    async def mirror_suspend(self, key: Key) -> bool:
        """spec.suspend -> the Job's suspend (Kueue decides unsuspension of queued jobs).
        True when the Job was patched."""
        view = self.indexes.sftjobs(key)
        if view is None:
            return False
        current = self.memories.of(key, view.uid).status(view)
        job = children_of(int(current.get("attempt") or 1), self.indexes.jobs(key), ()).job
        if job is None:
            return False
        desired = mirrored(current, job, view.spec.suspend, view.queued)
        if desired is None:
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
        self.memories.forget(key)

    def job_samples(self) -> list[JobSample]:
        return job_samples(self.indexes.all_sftjobs(), self.memories)

    def counters(self) -> OperatorCounters:
        return OperatorCounters(
            api_writes=dict(self.api.writes),
            transitions=dict(self.transitions),
            create_failures=self.create_failures,
            api_throttled=dict(self.api.throttled),
        )

    # -- the children of an attempt (under the job's lock) -------------------------------

    async def _ensure(self, view: SftView, body: Mapping[str, Any], memory: JobMemory) -> None:
        """Create every child of the current attempt (idempotent), then refresh status."""
        if view.deleting:
            return
        current = memory.status(view)
        attempt = current_attempt(current, self.indexes.jobs(view.key))
        if memory.ensured > attempt:
            return  # a restart has begun the next attempt: this one must not be recreated
        if view.status.get("phase") in FINAL_PHASES:
            memory.mark_ensured(attempt)
            await self._refresh(view.key, memory, seen=view)
            return
        prepared = await children.prepare(self.api, view, body, attempt, current.get("startTime"))
        if isinstance(prepared, Setup):
            memory.not_created = prepared.waiting
            if prepared.waiting is not None:
                memory.not_yet_ensured(attempt)
                self._retry_ensure(view.key, WAIT_RETRY_SECONDS)
            else:
                memory.mark_ensured(attempt)
            await self._refresh(view.key, memory, seen=view, setup=prepared)
            return
        rendered, storage = prepared
        await children.delete_jobs(
            self.api, view.namespace, older_jobs(attempt, self.indexes.jobs(view.key))
        )
        try:
            await children.create_all(self.api, self.identities, view, rendered.children)
        except k8s.ApiError as exc:
            memory.not_yet_ensured(attempt)
            await self._create_failed(view, memory, exc, rendered.children[-1])
            return
        memory.mark_ensured(attempt)
        memory.not_created = None
        memory.cancel_retry()
        await self._refresh(
            view.key,
            memory,
            seen=view,
            setup=attempt_setup.created(attempt, rendered.normalized, storage),
            # The watch may not have delivered the Job yet; we know it exists.
            assumed_job=job_view(rendered.children[-1]),
        )

    async def _create_failed(
        self, view: SftView, memory: JobMemory, exc: k8s.ApiError, job: Mapping[str, Any]
    ) -> None:
        if exc.status == 403 and "being terminated" in str(exc):
            return  # the namespace is going away, and the SFTJob with it
        error = in_sftjob_fields(str(exc), job, view.spec)  # `job` is the last child
        memory.not_created = NotCreated(CREATE_FAILED, error)
        self.create_failures += 1
        self.identities.forget(view.namespace)
        replacing = exc.reason == children.BEING_REPLACED
        self._retry_ensure(view.key, RETRY_SECONDS if replacing else CREATE_RETRY_SECONDS)
        await self._refresh(view.key, memory, seen=view, setup=attempt_setup.create_failed(error))

    async def _begin_attempt(self, key: Key, attempt: int, failed: str | None) -> None:
        """Replace the failed attempt's Job with attempt `attempt` (status already says so)."""
        view = self.indexes.sftjobs(key)
        if view is None:
            return
        memory = self.memories.of(key, view.uid)
        try:
            async with memory.lock:
                if failed is not None:
                    await self.api.delete("batch/v1", "Job", view.namespace, failed)
                # The last attempt's record must not pass for this attempt's progress.
                self._progress_sink.take(key)
                memory.attempt_started = (attempt, timeutil.now())
                await self.api.patch(
                    "v1",
                    "ConfigMap",
                    view.namespace,
                    names.config_map(view.name),
                    {"data": {progress.PROGRESS_KEY: None}},
                )
                body = await self.api.get(API_VERSION, KIND, view.namespace, view.name)
                if body is not None:
                    await self._ensure(sft_view(body), body, memory)
        except Exception as exc:
            logger.warning("starting attempt %d of %s/%s failed (%s); retrying", attempt, *key, exc)
            memory.ensured = 0
            memory.later(RETRY_SECONDS, lambda: self._begin_attempt(key, attempt, None), retry=True)

    # -- observe, decide, apply (under the job's lock) ------------------------------------

    async def _refresh(
        self,
        key: Key,
        memory: JobMemory,
        *,
        seen: SftView | None = None,
        setup: Setup | None = None,
        assumed_job: JobView | None = None,
        record: progress.Record | None = None,
    ) -> None:
        view = self.indexes.sftjobs(key) or seen
        if view is None:
            self.forget(key)  # deleted: nothing is left to do for it
            return
        if view.deleting:
            return
        observed = self._observe(view, memory, assumed_job, record)
        if (workload := await read_workload(self.api, view, observed.children.job)) is not None:
            observed = replace(observed, workload=workload)
        refused = await read_refused_pod(
            self.api,
            view.namespace,
            observed.children.job,
            observed.children.pods,
            view.spec.nodes,
        )
        if refused is not None:
            observed = replace(observed, refused=refused)
        decision = decide(observed, timeutil.now(), self.policy, setup)
        await self._apply(view, memory, decision)

    def _observe(
        self,
        view: SftView,
        memory: JobMemory,
        assumed_job: JobView | None,
        record: progress.Record | None,
    ) -> Observation:
        current = memory.status(view)
        jobs = list(self.indexes.jobs(view.key))
        attempt = current_attempt(current, jobs)
        seen = children_of(attempt, jobs, self.indexes.pods(view.key), assumed_job)
        job = seen.job
        created = timeutil.parse(job.created) if job is not None and job.created else None
        return Observation(
            sftjob=view,
            status=current,
            children=seen,
            progress=memory.held_progress(view),
            attempt_started=created or memory.started(attempt),
            not_created=memory.not_created,
            record=record,
            pending=self._progress_sink.peek(view.key),
        )

    async def _apply(self, view: SftView, memory: JobMemory, decision: Decision) -> None:
        if decision.took_pending:
            self._progress_sink.take(view.key)
        for action in decision.actions:
            if isinstance(action, BeginAttempt):
                memory.mark_ensured(action.attempt)  # claimed: no event recreates it meanwhile
        if decision.patch:
            written = await self.api.patch(
                API_VERSION,
                KIND,
                view.namespace,
                view.name,
                {"status": decision.patch},
                subresource="status",
            )
            if not written:
                return  # deleted meanwhile
            self._after_write(view, memory, decision)
        memory.progress = decision.progress
        for action in decision.actions:
            await self._act(view, action)
        self._schedule(view.key, memory, decision.recheck_after)

    def _after_write(self, view: SftView, memory: JobMemory, decision: Decision) -> None:
        before = memory.status(view).get("phase")
        memory.written = decision.status
        if (phase := decision.status.get("phase")) and phase != before:
            self.transitions[phase] += 1
        for event in decision.events:
            kopf.event(
                cast(kopf.Body, view.ref),
                type=event.type,
                reason=event.reason,
                message=event.message,
            )

    async def _act(self, view: SftView, action: Action) -> None:
        if isinstance(action, StopJob):
            logger.info("stopping the remaining pods of Job %s/%s", view.namespace, action.job)
            job = next((j for j in self.indexes.jobs(view.key) if j.name == action.job), None)
            # A queued job's Job: Kueue would unsuspend it while its Workload is admitted.
            if view.queue and job and await stop_by_workload(self.api, view, job):
                return
            await self.api.patch(
                "batch/v1", "Job", view.namespace, action.job, {"spec": {"suspend": True}}
            )
        elif isinstance(action, BeginAttempt):
            # A task, not awaited: it takes the job's lock, which this reconcile holds.
            task = asyncio.ensure_future(
                self._begin_attempt(view.key, action.attempt, action.failed_job)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(action, SetWorkloadActive):
            await set_workload_active(self.api, view, action.workload, action.active)
        else:
            logger.info("ttlSecondsAfterFinished elapsed; deleting SFTJob %s/%s", *view.key)
            await self.api.delete(API_VERSION, KIND, view.namespace, view.name, uid=view.uid)

    # -- timers -------------------------------------------------------------------------

    async def _write_progress(self, key: Key, record: progress.Record) -> None:
        """The progress sink's write: a reconcile that carries the record (the next record
        retries a failed one)."""
        try:
            await self.refresh(key, record=record)
        except k8s.TRANSIENT_ERRORS as exc:
            logger.warning("writing the progress of %s/%s failed (%s)", *key, exc)

    async def _debounced(self, key: Key, memory: JobMemory, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            if memory.refresh is asyncio.current_task():
                memory.refresh = None
        try:
            await self.refresh(key)
        except Exception as exc:
            k8s.log_retry("refreshing the status of", key, exc)
            self.request_refresh(key, RETRY_SECONDS)

    def _schedule(self, key: Key, memory: JobMemory, delay: float | None) -> None:
        memory.cancel_recheck()
        if delay is not None:
            memory.later(max(delay, 0.0) + TIMER_SLACK_SECONDS, lambda: self._recheck(key))

    async def _recheck(self, key: Key) -> None:
        self.request_refresh(key, 0)

    def _retry_ensure(self, key: Key, delay: float = CREATE_RETRY_SECONDS) -> None:
        """Creating a child failed (quota, admission): try again later, from the server's copy."""

        async def again() -> None:
            try:
                body = await self.api.get(API_VERSION, KIND, *key)
                if body is not None:
                    await self.reconcile(body)
            except Exception as exc:
                logger.warning("creating the children of %s/%s failed (%s); retrying", *key, exc)
                self._retry_ensure(key, delay)

        self.memories.of(key).later(delay, again, retry=True)
