"""Requests waiting for a rebuilt pool: readiness can flip back before they run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from paralab.inference.service import InferenceService
from paralab.settings import Settings


def test_a_waiter_keeps_waiting_when_the_new_pool_breaks_before_it_runs(tmp_path: Path) -> None:
    # The race behind an innocent image's 503: the new pool turned ready, and another
    # batch broke it again before the waiting request was scheduled.
    async def scenario() -> tuple[bool, bool]:
        service = InferenceService(Settings().replace(models_dir=tmp_path))
        loop = asyncio.get_running_loop()
        service._set_ready(False)
        waiter = asyncio.create_task(service._ready_pool(loop.time() + 30))
        await asyncio.sleep(0.05)  # the waiter is waiting on the event
        service._set_ready(True)
        service._set_ready(False)  # in the same step: the waiter has not run yet
        await asyncio.sleep(0.05)
        gave_up_early = waiter.done()
        service._set_ready(True)
        await asyncio.wait_for(waiter, 5)
        return gave_up_early, service.ready

    gave_up_early, ready_when_it_returned = asyncio.run(scenario())
    assert not gave_up_early
    assert ready_when_it_returned


def test_a_waiter_gives_up_at_its_deadline(tmp_path: Path) -> None:
    async def scenario() -> object:
        service = InferenceService(Settings().replace(models_dir=tmp_path))
        service._set_ready(False)
        return await service._ready_pool(asyncio.get_running_loop().time() + 0.05)

    assert asyncio.run(scenario()) is None
