"""The micro-batcher alone: batching by size and by delay, errors, in-flight cap."""

from __future__ import annotations

import asyncio

import pytest

from paralab.inference.batcher import MicroBatcher


class Recorder:
    def __init__(self, delay_s: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.delay_s = delay_s
        self.fail = fail
        self.running = 0
        self.max_running = 0

    async def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(items)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(self.delay_s)
            if self.fail:
                raise RuntimeError("worker failed")
            return [item * 10 for item in items]
        finally:
            self.running -= 1


async def test_concurrent_items_share_one_batch_and_get_their_own_result() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_size=64, max_delay_s=0.05, max_in_flight=1)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    await batcher.close()
    assert results == [i * 10 for i in range(10)]
    assert recorder.batches == [list(range(10))]


async def test_a_full_batch_is_sent_without_waiting_for_the_delay() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_size=4, max_delay_s=60, max_in_flight=4)
    results = await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(8))), 5)
    await batcher.close()
    assert results == [i * 10 for i in range(8)]
    assert [len(batch) for batch in recorder.batches] == [4, 4]


async def test_a_lone_item_is_sent_after_the_delay() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, max_batch_size=16, max_delay_s=0.01, max_in_flight=1)
    assert await asyncio.wait_for(batcher.submit(7), 5) == 70
    await batcher.close()


async def test_a_failing_batch_fails_each_of_its_items() -> None:
    batcher = MicroBatcher(Recorder(fail=True), max_batch_size=8, max_delay_s=0.01, max_in_flight=1)
    outcomes = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
    await batcher.close()
    assert all(isinstance(o, RuntimeError) for o in outcomes)


@pytest.mark.parametrize("in_flight", [1, 3])
async def test_no_more_batches_run_at_once_than_allowed(in_flight: int) -> None:
    recorder = Recorder(delay_s=0.02)
    batcher = MicroBatcher(recorder, max_batch_size=2, max_delay_s=0.0, max_in_flight=in_flight)
    await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    await batcher.close()
    assert recorder.max_running == in_flight
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(20))


async def test_a_batch_stays_within_its_cost_budget_and_a_costly_item_goes_alone() -> None:
    recorder = Recorder(delay_s=0.01)
    batcher = MicroBatcher(
        recorder,
        max_batch_size=8,
        max_delay_s=0.05,
        max_in_flight=1,
        cost=lambda item: 100 if item % 5 == 0 else 10,
        max_batch_cost=40,
    )
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    await batcher.close()
    assert results == [i * 10 for i in range(20)]
    costs = [[100 if i % 5 == 0 else 10 for i in batch] for batch in recorder.batches]
    assert all(sum(batch) <= 40 or batch == [100] for batch in costs), costs
    assert [100] in costs  # the costly items really went alone
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(20))


async def test_batchers_sharing_a_semaphore_share_its_cap() -> None:
    recorder = Recorder(delay_s=0.02)
    shared = asyncio.Semaphore(1)
    batchers = [
        MicroBatcher(recorder, max_batch_size=1, max_delay_s=0.0, max_in_flight=shared)
        for _ in range(3)
    ]
    await asyncio.gather(*(b.submit(i) for i in range(5) for b in batchers))
    for batcher in batchers:
        await batcher.close()
    assert recorder.max_running == 1
    assert len(recorder.batches) == 15
