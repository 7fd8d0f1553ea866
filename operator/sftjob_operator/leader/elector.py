"""Acquire, hold and release the Lease; run the operator only while it is held."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from sftjob_operator import k8s, metrics_server
from sftjob_operator.metrics import standby_exposition
from sftjob_operator.metrics_server import listen_address

from .lease import (
    API_VERSION,
    KIND,
    Election,
    Observed,
    holder_of,
    may_take,
    new_lease,
    observe,
    release_patch,
    take_patch,
)

log = logging.getLogger(__name__)
EXIT_LOST = 3  # the process exits with this when it loses the Lease; the pod restarts


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LeaseElector:
    def __init__(
        self, api: k8s.Api, election: Election, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.api = api
        self.election = election
        self.clock = clock
        self.observed: Observed | None = None

    async def try_take(self) -> bool:
        """One attempt to become (or stay) the holder; True if we hold it now."""
        e = self.election
        lease = await self.api.get(API_VERSION, KIND, e.namespace, e.name)
        now = self.clock()
        if lease is None:
            return await self.api.create(
                new_lease(e.name, e.namespace, e.identity, e.timing, _now())
            )
        self.observed = observe(lease, self.observed, now)
        if not may_take(self.observed, e.identity, e.timing, now):
            return False
        try:
            return await self.api.patch(
                API_VERSION,
                KIND,
                e.namespace,
                e.name,
                take_patch(lease, e.identity, e.timing, _now()),
            )
        except k8s.ApiError as err:
            if err.status == 409:  # someone wrote the record first
                return False
            raise

    async def acquire(self) -> None:
        """Until we hold the Lease."""
        e = self.election
        waiting_for = None
        while True:
            try:
                if await self.try_take():
                    log.info(
                        "leader election: %s holds Lease %s/%s", e.identity, e.namespace, e.name
                    )
                    return
                holder = self.observed.holder if self.observed else ""
                if holder != waiting_for:
                    waiting_for = holder
                    log.info(
                        "leader election: standing by; Lease %s/%s is held by %s",
                        e.namespace,
                        e.name,
                        holder,
                    )
            except Exception as err:  # the API server unreachable, a 5xx: try again
                log.warning("leader election: Lease %s/%s: %s", e.namespace, e.name, err)
            await asyncio.sleep(e.timing.retry_seconds)

    async def hold(self) -> None:
        """Renew every retry period; return once the Lease is lost (another holder, or no
        successful renewal for the renew deadline)."""
        e = self.election
        renewed = self.clock()
        while True:
            await asyncio.sleep(e.timing.retry_seconds)
            try:
                if await self.try_take():
                    renewed = self.clock()
                    continue
                log.error(
                    "leader election: Lease %s/%s taken by %s",
                    e.namespace,
                    e.name,
                    self.observed.holder if self.observed else "?",
                )
                return
            except Exception as err:
                log.warning("leader election: renewing Lease %s/%s: %s", e.namespace, e.name, err)
            if self.clock() - renewed >= e.timing.renew_deadline_seconds:
                log.error(
                    "leader election: Lease %s/%s not renewed for %.0fs",
                    e.namespace,
                    e.name,
                    e.timing.renew_deadline_seconds,
                )
                return

    async def release(self) -> None:
        e = self.election
        try:
            lease = await self.api.get(API_VERSION, KIND, e.namespace, e.name)
            if lease is not None and holder_of(lease) == e.identity:
                await self.api.patch(
                    API_VERSION, KIND, e.namespace, e.name, release_patch(lease, _now())
                )
                log.info("leader election: released Lease %s/%s", e.namespace, e.name)
        except Exception as err:
            log.warning("leader election: releasing Lease %s/%s: %s", e.namespace, e.name, err)


async def serve_standby_liveness(url: str) -> web.AppRunner:
    """Answer the liveness probe while standing by (kopf serves it once we lead)."""
    host, port, path = listen_address(url)

    async def alive(_: web.Request) -> web.Response:
        return web.Response(text="standby\n")

    app = web.Application()
    app.router.add_get(path, alive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def serve_standby(liveness: str | None, metrics: str | None) -> list[web.AppRunner]:
    """What a standby answers: the liveness probe, and a scrape with the leader gauge at 0
    (the metrics Service selects every replica; one that refused would be a target down)."""
    runners = [await serve_standby_liveness(liveness)] if liveness else []
    if metrics:
        runners.append(await metrics_server.serve(metrics, standby_exposition))
    return runners


async def run_elected(
    election: Election,
    liveness: str | None,
    operate: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    metrics: str | None = None,
) -> int:
    """Stand by until the Lease is ours, then run `operate(stop_flag)` while renewing it.
    Returns the process exit code: 0 after a clean stop (the Lease released), EXIT_LOST
    when the Lease was lost (the operator stopped first, so two never act at once)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    api = await k8s.Api.connect(connections=2)
    elector = LeaseElector(api, election)
    try:
        standby = await serve_standby(liveness, metrics)
        acquiring = asyncio.create_task(elector.acquire())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        for runner in standby:  # the leader's own servers take the ports over
            await runner.cleanup()
        if not acquiring.done():
            acquiring.cancel()
            return 0
        holding = asyncio.create_task(elector.hold())
        operating = asyncio.create_task(operate(stop))
        await asyncio.wait({holding, operating}, return_when=asyncio.FIRST_COMPLETED)
        if holding.done():
            stop.set()  # lost: stop acting before anyone else may start
            await operating
            return EXIT_LOST
        holding.cancel()
        await elector.release()
        return 0
    finally:
        await api.close()
