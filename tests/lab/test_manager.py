"""The run manager's streams, driven directly (no HTTP): what a slow consumer receives."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from paralab.lab import manager as manager_module
from paralab.lab.manager import RunManager, Subscriber
from paralab.runs.store import RunStore
from paralab.settings import Settings


async def test_a_slow_consumer_is_bounded_and_still_gets_every_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager_module, "MAX_PENDING_BATCHES", 2)
    inbox_sizes: list[int] = []
    lagged: list[bool] = []
    real_push = Subscriber.push

    def spying_push(self: Subscriber, batch: manager_module.Batch) -> None:
        real_push(self, batch)
        inbox_sizes.append(len(self.batches))
        lagged.append(self.lagging)

    monkeypatch.setattr(Subscriber, "push", spying_push)
    store = RunStore(tmp_path / "runs.sqlite3")
    runs = RunManager(store, Settings(data_dir=tmp_path))
    try:
        run = runs.submit("C1.1", {"threads": 2, "acquisitions": 3000})
        seqs: list[int] = []
        async for batch in runs.stream(run.id):
            seqs += [seq for seq, _ in batch]
            await asyncio.sleep(0.02)  # far slower than the child produces
        last = json.loads(store.events(run.id, seqs[-1], 1)[0].body)
    finally:
        await runs.shutdown()
        store.close()

    assert any(lagged)  # the premise: this consumer did fall behind
    assert max(inbox_sizes) <= 2
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) > 18_000  # 3 events per acquisition, 2 x 3000 of them
    assert (last["type"], last["status"]) == ("run", "succeeded")


async def test_shutdown_cancels_running_and_queued_runs_and_says_why(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    runs = RunManager(store, Settings(data_dir=tmp_path, max_concurrent_runs=1))
    try:
        running = runs.submit("X1.1", {"detect": False})  # deadlocks: runs until stopped
        queued = runs.submit("T1.1", {})
        while runs.get(running.id).status != "running":
            await asyncio.sleep(0.01)
        await runs.shutdown()
        finished = {run_id: runs.get(run_id) for run_id in (running.id, queued.id)}
    finally:
        store.close()
    assert finished[running.id].status == "cancelled"
    assert finished[running.id].error == "Cancelled because the server shut down."
    assert finished[queued.id].status == "cancelled"
    assert finished[queued.id].error == "Cancelled because the server shut down while queued."
