"""The shared trainer identity of each namespace, made once and re-checked now and then.

Every SFTJob's pods run as `sftjob-trainer` (render.rbac). The first job of a namespace
creates its ServiceAccount, Role and RoleBinding; jobs after it only wait for that. The
memory expires, so an identity someone deleted is made again within RECHECK_SECONDS
(a create of an existing object is a no-op).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sftjob_operator import k8s
from sftjob_operator.render import trainer_identity

RECHECK_SECONDS = 300.0


class TrainerIdentities:
    def __init__(
        self,
        api: k8s.Api,
        recheck_seconds: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._recheck = recheck_seconds
        self._clock = clock
        self._made: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, namespace: str) -> bool:
        made = self._made.get(namespace)
        return made is not None and self._clock() - made < self._recheck

    async def ensure(self, namespace: str) -> None:
        if self._fresh(namespace):
            return
        async with self._locks.setdefault(namespace, asyncio.Lock()):
            if self._fresh(namespace):
                return  # made while this call waited
            # In order: the RoleBinding's escalation check reads the Role.
            for manifest in trainer_identity(namespace):
                await self._api.create(manifest)
            self._made[namespace] = self._clock()

    def forget(self, namespace: str) -> None:
        """Make it again on next use (e.g. after a create failed for want of it)."""
        self._made.pop(namespace, None)
