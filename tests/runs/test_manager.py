"""The run manager, driven directly (no HTTP): lifecycle, caps and shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from paralab.runs.fanout import MemoryFanout
from paralab.runs.manager import RunManager
from paralab.runs.store import RunStore
from paralab.settings import Settings


async def test_shutdown_cancels_running_and_queued_runs_and_says_why(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    settings = Settings().replace(max_concurrent_runs=1).lab
    runs = RunManager(store, MemoryFanout(), settings, tmp_path / "artifacts")
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
