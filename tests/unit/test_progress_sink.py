"""Progress coalescing: the newest record per job, at most one write per interval."""

from __future__ import annotations

import asyncio

from sftjob_operator.progress_sink import ProgressSink


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_a_burst_for_one_job_becomes_one_write_of_the_newest_record() -> None:
    async def scenario() -> None:
        written: list[tuple[str, int]] = []

        async def write(key: str, record: int) -> None:
            written.append((key, record))

        clock = Clock()
        sink: ProgressSink[str, int] = ProgressSink(write, interval=60, clock=clock)
        sink.offer("a", 1)
        await asyncio.sleep(0.01)
        assert written == [("a", 1)]  # the first record goes out at once
        for i in range(2, 50):
            sink.offer("a", i)
        await asyncio.sleep(0.01)
        assert written == [("a", 1)]  # within the interval: held back, newest kept
        assert sink.take("a") == 49
        clock.now = 61.0  # the interval has passed since that take
        sink.offer("a", 50)
        await asyncio.sleep(0.01)
        assert written == [("a", 1), ("a", 50)]

    run(scenario())


def test_an_urgent_record_skips_the_wait() -> None:
    async def scenario() -> None:
        written: list[int] = []

        async def write(key: str, record: int) -> None:
            written.append(record)

        sink: ProgressSink[str, int] = ProgressSink(write, interval=60)
        sink.offer("a", 1)
        await asyncio.sleep(0.01)
        sink.offer("a", 2)
        sink.offer("a", 3, urgent=True)
        await asyncio.sleep(0.05)
        assert written == [1, 3]

    run(scenario())


def test_many_jobs_share_bounded_write_slots_and_a_slow_one_blocks_no_other() -> None:
    async def scenario() -> None:
        busy = 0
        peak = 0
        done: list[str] = []
        gate = asyncio.Event()

        async def write(key: str, record: int) -> None:
            nonlocal busy, peak
            busy += 1
            peak = max(peak, busy)
            if key == "slow":
                await gate.wait()
            await asyncio.sleep(0.01)
            busy -= 1
            done.append(key)

        sink: ProgressSink[str, int] = ProgressSink(write, interval=1, slots=4)
        sink.offer("slow", 0)
        for i in range(100):
            sink.offer(f"job{i}", i)
        for _ in range(200):
            if len(done) == 100:
                break
            await asyncio.sleep(0.01)
        assert len(done) == 100 and "slow" not in done
        assert peak <= 4
        gate.set()
        await asyncio.sleep(0.05)
        assert "slow" in done

    run(scenario())


def test_take_hands_over_the_pending_record_and_a_failed_write_is_survived() -> None:
    async def scenario() -> None:
        calls: list[int] = []

        async def write(key: str, record: int) -> None:
            calls.append(record)
            raise RuntimeError("apiserver away")

        sink: ProgressSink[str, int] = ProgressSink(write, interval=60)
        sink.offer("a", 1)
        await asyncio.sleep(0.01)
        sink.offer("a", 2)
        assert sink.take("a") == 2 and sink.take("a") is None
        sink.offer("b", 5)
        await asyncio.sleep(0.01)
        assert calls == [1, 5]

    run(scenario())
