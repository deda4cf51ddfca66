"""The run service's streams, driven directly (no HTTP): what a slow consumer receives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from paralab.lab.events import RunLifecycle
from paralab.runs import fanout
from paralab.runs.fanout import MemoryInbox
from paralab.runs.service import RunService
from paralab.settings import Settings


async def test_a_slow_consumer_is_bounded_and_still_gets_every_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fanout, "MAX_PENDING_BATCHES", 2)
    inbox_sizes: list[int] = []
    lagged: list[bool] = []
    real_push = MemoryInbox.push

    def spying_push(self: MemoryInbox, batch: fanout.Batch) -> None:
        real_push(self, batch)
        inbox_sizes.append(len(self.batches))
        lagged.append(self.lagging)

    monkeypatch.setattr(MemoryInbox, "push", spying_push)
    async with RunService.running(Settings().replace(data_dir=tmp_path)) as runs:
        run = runs.submit("C1.1", {"threads": 2, "acquisitions": 3000})
        seqs: list[int] = []
        async for batch in runs.stream(run.id):
            seqs += [seq for seq, _ in batch]
            await asyncio.sleep(0.02)  # far slower than the child produces
        last = runs.event_page(run.id, seqs[-1], 1).events[0]

    assert any(lagged)  # the premise: this consumer did fall behind
    assert max(inbox_sizes) <= 2
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) > 18_000  # 3 events per acquisition, 2 x 3000 of them
    assert isinstance(last, RunLifecycle)
    assert last.status == "succeeded"
