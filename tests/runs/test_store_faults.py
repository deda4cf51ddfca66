"""A full run store (SQLite's page limit, or a size-limited file system): runs that
cannot be stored fail saying so and are stopped, new ones are refused with a 503, what was
stored reads back unchanged, and once space is freed runs work again.

The store is made full the unprivileged way: ``max_page_count`` at the pages in use, then
ballast runs until one does not fit. The runs table of these tests fits one page, so every
later insert of a run at least as large as the ballast, and any update that grows a run's
record by more, needs a new page and fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from paralab.errors import Unavailable
from paralab.lab.events import FINAL_STATUSES
from paralab.runs.fanout import MemoryFanout
from paralab.runs.manager import RunManager
from paralab.runs.records import Run
from paralab.runs.store import RunStore, StoreFull, now
from paralab.settings import Settings
from tests.api.runs_client import start, wait_until_final

STREAMING = ("C1.2", {"rate": 2000, "seconds": 60})
"""Prints 2,000 lines a second for a minute: it needs new pages soon."""


def fill(store: RunStore) -> list[str]:
    """Make the store full; returns the ids of the ballast runs it took."""
    store.set_max_pages(store.page_count())
    ballast: list[str] = []
    for i in range(10_000):
        run = Run(
            id=f"ballast{i:05d}", scenario_id="-", params={}, status="failed", created_at=now()
        )
        try:
            store.insert_run(run)
        except StoreFull:
            return ballast
        ballast.append(run.id)
    raise AssertionError("the store never became full")


def snapshot(store: RunStore, run_id: str) -> tuple[Any, ...]:
    """Everything a reader gets of a run, as bytes where the store keeps bytes."""
    return (
        store.get_run(run_id),
        [(e.seq, bytes(e.body)) for e in store.events(run_id)],
        store.output(run_id),
        store.metrics(run_id),
    )


def integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def until_final(runs: RunManager, run_id: str, timeout: float = 60) -> Run:
    deadline = time.monotonic() + timeout
    while (run := runs.get(run_id)).status not in FINAL_STATUSES:
        assert time.monotonic() < deadline, f"run {run_id} did not finish"
        await asyncio.sleep(0.05)
    return run


async def child_pid(store: RunStore, run_id: str, timeout: float = 60) -> int:
    """The run's process, once it has stored events of its own."""
    deadline = time.monotonic() + timeout
    while True:
        pids = {_pid(e.body) for e in store.events(run_id)} - {os.getpid()}
        if pids:
            return pids.pop()
        assert time.monotonic() < deadline, f"run {run_id} stored no events of its own"
        await asyncio.sleep(0.02)


def _pid(body: bytes) -> int:
    return int(msgspec.json.decode(body)["pid"])


async def test_a_full_store_fails_the_run_refuses_new_ones_and_recovers(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    runs = RunManager(store, MemoryFanout(), Settings().lab, tmp_path / "artifacts")
    try:
        stored = [runs.submit("T1.1", {"threads": 3}).id for _ in range(2)]
        old = runs.submit("C1.2", {"rate": 2000, "seconds": 0.5}).id  # ~100 pages of output
        for run_id in [*stored, old]:
            assert (await until_final(runs, run_id)).status == "succeeded"
        before = {run_id: snapshot(store, run_id) for run_id in stored}

        streaming = runs.submit(*STREAMING)
        pid = await child_pid(store, streaming.id)
        ballast = fill(store)
        failed = await until_final(runs, streaming.id)

        # The run is stopped and says why; even its final record did not fit, so it is
        # served from memory until the store takes it.
        assert failed.status == "failed"
        assert failed.error.startswith("Stopped: its events could not be stored.")
        assert "The run store is full (database or disk is full)" in failed.error
        assert not group_alive(pid)
        in_store = store.get_run(streaming.id)
        assert in_store is not None
        assert in_store.status == "running"
        stored_seq = failed.last_seq  # (``failed`` is the manager's own record: it moves on)
        assert in_store.last_seq == stored_seq
        assert runs.current(in_store).status == "failed"

        # New runs are refused and leave no trace; what was stored reads back the same.
        total = store.list_runs(scenario_id=None, status=None, limit=1, offset=0)[1]
        with pytest.raises(StoreFull) as refused:
            runs.submit("T1.1", {"threads": 3})
        assert refused.value.status_code == 503
        assert store.list_runs(scenario_id=None, status=None, limit=1, offset=0)[1] == total
        assert {run_id: snapshot(store, run_id) for run_id in stored} == before
        assert integrity(store.path) == "ok"

        # Deleting old runs frees space: the failed run's record is written, then new runs work.
        for run_id in [*ballast, old]:
            store.delete_run(run_id)
        assert store.get_run(old) is None
        fresh = runs.submit("T1.1", {"threads": 3})
        final = store.get_run(streaming.id)
        assert final is not None
        assert (final.status, final.error) == ("failed", failed.error)
        assert final.last_seq == stored_seq + 1  # the final event, after no gap
        seqs = [e.seq for e in store.events(streaming.id)]
        assert seqs == list(range(1, final.last_seq + 1))
        assert (await until_final(runs, fresh.id)).error == ""
        assert runs.get(fresh.id).status == "succeeded"
        assert {run_id: snapshot(store, run_id) for run_id in stored} == before
    finally:
        await runs.shutdown()
        store.close()


async def test_shutdown_says_why_on_every_run_and_refuses_new_ones(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    runs = RunManager(
        store, MemoryFanout(), Settings().replace(max_concurrent_runs=1).lab, tmp_path / "a"
    )
    try:
        running = runs.submit("X1.1", {"detect": False})
        queued = runs.submit("T1.1", {})
        pid = await child_pid(store, running.id)
        stopping = asyncio.ensure_future(runs.shutdown("cancelled: the server is shutting down"))
        await asyncio.sleep(0)  # shutdown has begun, its runs are not yet finished
        with pytest.raises(Unavailable) as refused:
            runs.submit("T1.1", {})
        await stopping
        stored = {run_id: store.get_run(run_id) for run_id in (running.id, queued.id)}
    finally:
        store.close()
    assert refused.value.status_code == 503
    assert "shutting down" in refused.value.detail
    assert not group_alive(pid)
    assert stored[running.id] is not None
    assert (stored[running.id].status, stored[running.id].error) == (
        "cancelled",
        "cancelled: the server is shutting down",
    )
    assert stored[queued.id] is not None
    assert (stored[queued.id].status, stored[queued.id].error) == (
        "cancelled",
        "cancelled: the server is shutting down while queued.",
    )


def test_the_api_answers_503_while_the_store_is_full_and_recovers(
    client: TestClient[Litestar],
) -> None:
    store: RunStore = client.app.state["services"].runs.store
    stored = [wait_until_final(client, start(client, "T1.1", threads=2)["id"]) for _ in "ab"]
    events = {r["id"]: client.get(f"/api/runs/{r['id']}/events").content for r in stored}
    details = {r["id"]: client.get(f"/api/runs/{r['id']}").json() for r in stored}
    limit = store.page_count()
    fill(store)

    total = client.get("/api/runs").json()["total"]
    full = client.post("/api/runs", json={"scenario_id": "T1.1", "params": {}})
    assert full.status_code == 503
    body = full.json()
    assert body["error"] == "run_store_full"
    assert "The run store is full" in body["detail"]
    assert int(full.headers["retry-after"]) > 0
    assert client.get("/health/live").status_code == 200
    assert client.get("/api/runs").json()["total"] == total
    for run in stored:
        assert client.get(f"/api/runs/{run['id']}/events").content == events[run["id"]]
        assert client.get(f"/api/runs/{run['id']}").json() == details[run["id"]]

    store.set_max_pages(limit * 100)  # space returns
    again = wait_until_final(client, start(client, "T1.1", threads=2)["id"])
    assert again["status"] == "succeeded"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (needs mount privileges; skipped without them)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_file_system_fails_the_run_and_space_brings_runs_back(
    small_fs: Path,
) -> None:
    store = RunStore(small_fs / "runs.sqlite3")
    runs = RunManager(store, MemoryFanout(), Settings().lab, small_fs / "artifacts")
    ballast = small_fs / "ballast"
    try:
        done = runs.submit("T1.1", {"threads": 3})
        assert (await until_final(runs, done.id)).status == "succeeded"
        before = snapshot(store, done.id)

        streaming = runs.submit(*STREAMING)
        pid = await child_pid(store, streaming.id)
        with contextlib.suppress(OSError), ballast.open("wb") as f:  # ENOSPC ends it
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        failed = await until_final(runs, streaming.id)
        assert failed.status == "failed"
        assert "The run store is full (database or disk is full)" in failed.error
        assert not group_alive(pid)
        assert snapshot(store, done.id) == before

        ballast.unlink()
        fresh = runs.submit("T1.1", {"threads": 3})
        assert (await until_final(runs, fresh.id)).status == "succeeded"
        final = store.get_run(streaming.id)
        assert final is not None
        assert (final.status, final.error) == ("failed", failed.error)
        assert snapshot(store, done.id) == before
        assert integrity(store.path) == "ok"
    finally:
        await runs.shutdown()
        store.close()
