"""What the operator remembers of each SFTJob between events: one JobMemory per job.

Everything here can be lost: after an operator restart the cluster (the SFTJob's status,
the attempt labels of its children) says the same, and the memory is rebuilt from it. It
exists so that a stale watch cache never causes a second write, a duplicate Event or a
second attempt. A memory belongs to one SFTJob uid; a new SFTJob of the same name starts a
fresh one, and forgetting a job cancels its timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sftjob_operator.decide import progress as progress_policy
from sftjob_operator.metrics import JobSample
from sftjob_operator.status.phase import NotCreated
from sftjob_operator.views import Key, SftView


@dataclass(eq=False)
class JobMemory:
    uid: str
    # Held while the job is reconciled: observing, deciding, writing and creating children,
    # so a restart never interleaves with the creation of the attempt it replaces.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    written: dict[str, Any] | None = None  # the status as last written
    progress: dict[str, Any] | None = None  # progress keys as last accepted
    # The newest attempt whose children this process created or refused, or whose
    # creation a restart has claimed (0: none).
    ensured: int = 0
    not_created: NotCreated | None = None  # why the attempt's children do not exist yet
    # (attempt, when this operator started it), until that attempt's Job is seen.
    attempt_started: tuple[int, datetime] | None = None
    recheck: asyncio.TimerHandle | None = None  # a time-based rule, or the TTL
    retry: asyncio.TimerHandle | None = None  # creating children, or starting an attempt
    refresh: asyncio.Future[None] | None = None  # a debounced refresh

    def status(self, view: SftView) -> dict[str, Any]:
        return dict(self.written if self.written is not None else view.status)

    def held_progress(self, view: SftView) -> dict[str, Any]:
        if self.progress is not None:
            return dict(self.progress)
        return progress_policy.from_status(view.status)

    def started(self, attempt: int) -> datetime | None:
        if self.attempt_started and self.attempt_started[0] == attempt:
            return self.attempt_started[1]
        return None

    def mark_ensured(self, attempt: int) -> None:
        self.ensured = max(self.ensured, attempt)

    def not_yet_ensured(self, attempt: int) -> None:
        """The attempt's children could not be created yet: the next reconcile tries again,
        even when a restart claimed the attempt (BeginAttempt) before creating them."""
        self.ensured = min(self.ensured, attempt - 1)

    def later(
        self, delay: float, action: Callable[[], Awaitable[Any]], retry: bool = False
    ) -> None:
        """Run `action` after `delay` seconds, replacing the timer of its kind (a recheck, or
        a retry of creating children or starting an attempt)."""
        old = self.retry if retry else self.recheck
        if old is not None:
            old.cancel()
        timer = asyncio.get_running_loop().call_later(
            delay, lambda: asyncio.ensure_future(action())
        )
        if retry:
            self.retry = timer
        else:
            self.recheck = timer

    def cancel_recheck(self) -> None:
        if self.recheck is not None:
            self.recheck.cancel()
            self.recheck = None

    def cancel_retry(self) -> None:
        if self.retry is not None:
            self.retry.cancel()
            self.retry = None

    def cancel_timers(self) -> None:
        for timer in (self.recheck, self.retry):
            if timer is not None:
                timer.cancel()
        if self.refresh is not None:
            self.refresh.cancel()
        self.recheck = self.retry = self.refresh = None


def last_written(view: SftView, memory: JobMemory | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The status and progress keys as this operator last wrote them (the server's if it
    has not, or `memory` is another SFTJob's)."""
    if memory is not None and memory.uid == view.uid:
        return memory.status(view), memory.held_progress(view)
    return dict(view.status), progress_policy.from_status(view.status)


def job_samples(views: Iterable[SftView], memories: Mapping[Key, JobMemory]) -> list[JobSample]:
    """Every SFTJob as this operator last wrote its status (for the metrics)."""
    samples = []
    for view in views:
        status, held = last_written(view, memories.get(view.key))
        samples.append(
            JobSample(
                namespace=view.namespace,
                name=view.name,
                phase=str(status.get("phase") or ""),
                restarts=int(status.get("restarts") or 0),
                progress=held.get("progress") or {},
                disruptions=int(status.get("disruptions") or 0),
            )
        )
    return samples


class Memories(Mapping[Key, JobMemory]):
    def __init__(self) -> None:
        self._jobs: dict[Key, JobMemory] = {}

    def of(self, key: Key, uid: str = "") -> JobMemory:
        """The job's memory; a fresh one for a new uid (`uid` "": whichever is held)."""
        memory = self._jobs.get(key)
        if memory is not None and uid and memory.uid not in (uid, ""):
            memory.cancel_timers()
            memory = None
        if memory is None:
            memory = self._jobs[key] = JobMemory(uid)
        memory.uid = memory.uid or uid
        return memory

    def forget(self, key: Key) -> None:
        if memory := self._jobs.pop(key, None):
            memory.cancel_timers()

    def __getitem__(self, key: Key) -> JobMemory:
        return self._jobs[key]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._jobs)

    def __len__(self) -> int:
        return len(self._jobs)
