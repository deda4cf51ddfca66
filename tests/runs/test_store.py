from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from paralab.lab.events import Metric, Output
from paralab.runs.records import Run
from paralab.runs.store import RunStore


def make_run(run_id: str = "r1", status: str = "running") -> Run:
    return Run(
        id=run_id,
        scenario_id="T1.1",
        params={"threads": 2},
        status=status,  # type: ignore[arg-type]
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.insert_run(make_run())
    # three batches: seq 1-3, 4-4, 5-9
    for first, count in ((1, 3), (4, 1), (5, 5)):
        store.append_events(
            "r1", first, [f'{{"seq":{s}}}'.encode() for s in range(first, first + count)]
        )
    return store


@pytest.mark.parametrize(
    ("from_seq", "limit", "expected"),
    [
        (1, 100, list(range(1, 10))),
        (2, 100, list(range(2, 10))),
        (4, 2, [4, 5]),
        (7, 100, [7, 8, 9]),
        (10, 100, []),
    ],
)
def test_replay_from_any_seq_across_chunks(
    store: RunStore, from_seq: int, limit: int, expected: list[int]
) -> None:
    events = store.events("r1", from_seq, limit)
    assert [e.seq for e in events] == expected
    assert [e.body for e in events] == [f'{{"seq":{s}}}'.encode() for s in expected]


def test_runs_of_other_ids_are_not_mixed_in(store: RunStore) -> None:
    store.insert_run(make_run("r2"))
    store.append_events("r2", 1, [b'{"other":1}'])
    assert [e.body for e in store.events("r2")] == [b'{"other":1}']
    assert len(store.events("r1")) == 9


def test_output_and_metrics_are_kept_with_their_seq(store: RunStore) -> None:
    line = Output(t_ns=5, pid=1, tid=2, actor="a", line="hello", seq=10)
    metric = Metric(t_ns=6, pid=1, tid=2, actor="a", name="speedup", value=1.5, unit="x", seq=11)
    store.append_events("r1", 10, [b"{}", b"{}"], [line], [metric])
    assert [(o.seq, o.line) for o in store.output("r1")] == [(10, "hello")]
    assert [(m.name, m.value, m.unit) for m in store.metrics("r1")] == [("speedup", 1.5, "x")]


def test_everything_survives_reopening(tmp_path: Path, store: RunStore) -> None:
    run = make_run()
    run.status = "succeeded"
    run.last_seq = 9
    store.update_run(run)
    store.close()
    reopened = RunStore(tmp_path / "runs.sqlite3")
    assert reopened.get_run("r1") == run
    assert [e.seq for e in reopened.events("r1")] == list(range(1, 10))


def test_unfinished_runs_are_found(store: RunStore) -> None:
    store.insert_run(make_run("done", status="succeeded"))
    assert [r.id for r in store.unfinished_runs()] == ["r1"]
