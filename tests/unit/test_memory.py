"""One JobMemory per SFTJob: one lifecycle, per uid; forgetting cancels its timers."""

from __future__ import annotations

import asyncio

from sftjob_operator.memory import Memories, last_written
from sftjob_operator.views import SftView, sft_view

KEY = ("ns", "j")


def view(uid: str, **status: object) -> SftView:
    return sft_view({"metadata": {"name": "j", "namespace": "ns", "uid": uid}, "status": status})


def test_a_memory_belongs_to_one_uid() -> None:
    memories = Memories()
    first = memories.of(KEY, "u1")
    assert memories.of(KEY) is first and memories.of(KEY, "u1") is first
    first.written = {"phase": "Running"}
    second = memories.of(KEY, "u2")  # the SFTJob was deleted and made again
    assert second is not first and second.written is None


def test_a_memory_made_before_its_uid_was_known_adopts_it() -> None:
    memories = Memories()
    early = memories.of(KEY)
    assert memories.of(KEY, "u1") is early and early.uid == "u1"


def test_the_status_is_the_last_written_one_else_the_servers() -> None:
    memories = Memories()
    server = view("u1", phase="Pending", progress={"step": 1})
    assert last_written(server, None) == ({"phase": "Pending", "progress": {"step": 1}}, {"progress": {"step": 1}})  # fmt: skip
    memory = memories.of(KEY, "u1")
    memory.written, memory.progress = {"phase": "Running"}, {"progress": {"step": 2}}
    assert last_written(server, memory) == ({"phase": "Running"}, {"progress": {"step": 2}})
    assert last_written(view("u2"), memory) == ({}, {})


def test_forgetting_cancels_every_timer() -> None:
    async def run() -> list[str]:
        fired: list[str] = []
        memories = Memories()
        memory = memories.of(KEY, "u1")

        async def fire(name: str) -> None:
            fired.append(name)

        memory.later(0.01, lambda: fire("recheck"))
        memory.later(0.01, lambda: fire("retry"), retry=True)
        memory.later(0.01, lambda: fire("replaced"))  # replaces the recheck
        memories.forget(KEY)
        await asyncio.sleep(0.05)
        assert KEY not in memories
        return fired

    assert asyncio.run(run()) == []
