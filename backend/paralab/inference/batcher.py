"""A micro-batcher: concurrent requests for one model share one forward pass.

Flushes when ``max_batch_size`` requests wait or the oldest has waited ``max_delay_s``
(TF Serving's ``batch_timeout_micros``, Triton's ``max_queue_delay_microseconds``).
At most ``max_in_flight`` batches run at once (a count, or a semaphore shared with other
batchers), so under load the queue grows into bigger batches instead of many small ones.
With ``cost`` and ``max_batch_cost``, a batch also stops before its items' total cost
passes the budget (an item costing more than the budget goes alone).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
RunBatch = Callable[[list[Item]], Awaitable[Sequence[Result]]]


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: RunBatch[Item, Result],
        *,
        max_batch_size: int,
        max_delay_s: float,
        max_in_flight: int | asyncio.Semaphore,
        on_batch: Callable[[int], None] = lambda size: None,
        cost: Callable[[Item], int] = lambda item: 1,
        max_batch_cost: int | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch_size = max_batch_size
        self._max_delay_s = max_delay_s
        self._in_flight = (
            max_in_flight
            if isinstance(max_in_flight, asyncio.Semaphore)
            else asyncio.Semaphore(max_in_flight)
        )
        self._on_batch = on_batch
        self._cost = cost
        self._max_batch_cost = max_batch_cost
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._arrived = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        return len(self._waiting)

    async def submit(self, item: Item) -> Result:
        """Queue one item and wait for its result (exceptions of its batch propagate)."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._collect())
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._arrived.set()
        return await future

    async def close(self) -> None:
        if self._loop_task:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for _, future in self._waiting:
            future.cancel()
        self._waiting.clear()

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._waiting:
                self._arrived.clear()
                await self._arrived.wait()
            await self._in_flight.acquire()
            deadline = loop.time() + self._max_delay_s
            while not self._full() and loop.time() < deadline:
                self._arrived.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), deadline - loop.time())
            taken = self._take()
            batch = [(item, future) for item, future in self._waiting[:taken] if not future.done()]
            del self._waiting[:taken]
            if not batch:
                self._in_flight.release()
                continue
            task = asyncio.create_task(self._run(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    def _full(self) -> bool:
        taken = self._take()
        return taken == self._max_batch_size or taken < len(self._waiting)

    def _take(self) -> int:
        """How many of the waiting items the next batch takes."""
        if self._max_batch_cost is None:
            return min(len(self._waiting), self._max_batch_size)
        total = 0
        for count, (item, _) in enumerate(self._waiting[: self._max_batch_size]):
            total += self._cost(item)
            if count and total > self._max_batch_cost:
                return count
        return min(len(self._waiting), self._max_batch_size)

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            self._on_batch(len(batch))
            results = await self._run_batch([item for item, _ in batch])
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._in_flight.release()
