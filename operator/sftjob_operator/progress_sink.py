"""Coalesces progress records: the newest one per job wins, written at most once per interval.

Receiving a record costs O(1) and never waits on the API: it replaces the job's pending
record and, if no write is scheduled yet, schedules one. Writes from all jobs share a
small number of slots, so a burst of progress from many jobs cannot crowd out the
operator's lifecycle writes (status, children), which do not use these slots.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K")
R = TypeVar("R")

DEFAULT_INTERVAL_SECONDS = 3.0
DEFAULT_SLOTS = 8


class ProgressSink(Generic[K, R]):
    def __init__(
        self,
        write: Callable[[K, R], Awaitable[None]],
        interval: float = DEFAULT_INTERVAL_SECONDS,
        slots: int = DEFAULT_SLOTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self.interval = interval
        self._clock = clock
        self._slots = asyncio.Semaphore(slots)
        self._pending: dict[K, R] = {}
        self._last_write: dict[K, float] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}

    def offer(self, key: K, record: R, urgent: bool = False) -> None:
        """Keep `record` as the job's newest; write it when the job's interval allows."""
        self._pending[key] = record
        timer = self._timers.get(key)
        if timer is not None and not urgent:
            return  # the scheduled write will take this newer record
        if timer is not None:
            timer.cancel()
        last = self._last_write.get(key)
        delay = 0.0 if urgent or last is None else max(last + self.interval - self._clock(), 0.0)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, lambda: asyncio.ensure_future(self._flush(key)))

    def peek(self, key: K) -> R | None:
        """The pending record, left in place."""
        return self._pending.get(key)

    def take(self, key: K) -> R | None:
        """The pending record, removed (for a caller that writes it itself)."""
        if timer := self._timers.pop(key, None):
            timer.cancel()
        record = self._pending.pop(key, None)
        if record is not None:
            self._last_write[key] = self._clock()
        return record

    def forget(self, key: K) -> None:
        self.take(key)
        self._last_write.pop(key, None)

    async def _flush(self, key: K) -> None:
        self._timers.pop(key, None)
        record = self._pending.pop(key, None)
        if record is None:
            return
        self._last_write[key] = self._clock()
        async with self._slots:
            try:
                await self._write(key, record)
            except Exception:
                logger.exception("writing the progress of %s failed; the next record retries", key)
