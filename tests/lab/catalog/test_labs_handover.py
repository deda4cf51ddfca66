"""L3, shared memory against pickling: the workers' sums, every method and size reported,
every segment unlinked by the lab itself, the size cap, every start method. No timings."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from typing import Any

import msgspec
import numpy as np
import pytest

from paralab.errors import InvalidInput
from paralab.lab import shm
from paralab.lab.bootstrap import RUN_ID_ENV
from paralab.lab.catalog import find
from paralab.lab.catalog.labs import common, handover
from paralab.lab.catalog.labs.handover import HandoverParams
from paralab.lab.events import (
    ActorStart,
    Event,
    Metric,
    ProcessExit,
    QueueGet,
    SharedMemoryOp,
)
from paralab.lab.scenario import Lab
from tests.lab.scenarios import run_scenario

pytestmark = pytest.mark.skipif(not os.path.isdir(shm.SHM_DIR), reason="needs /dev/shm")

START_METHODS = ["fork", "spawn", "forkserver"]


def run(**params: Any) -> list[Event]:
    outcome, events = run_scenario("L3.1", **params)
    assert outcome.status == "succeeded", outcome.error
    return sorted(events, key=lambda e: e.t_ns)


def metrics(events: list[Event], name: str) -> dict[tuple[str, str], float]:
    """``name``'s values by (method label or "", size_mib label)."""
    return {
        (e.labels.get("method", ""), e.labels["size_mib"]): e.value
        for e in events
        if isinstance(e, Metric) and e.name == name
    }


def expected_sums(seed: int, sizes_mib: list[int]) -> list[int]:
    """What the lab's parent sums, made again here: the same seeded generator, in order."""
    rng = np.random.default_rng(seed)
    count = handover.MIB // handover.ITEMSIZE
    return [int(rng.integers(0, 1000, size=mib * count).sum()) for mib in sizes_mib]


RECEIPT = re.compile(r"Receipt\(worker=(\d+), held_at=[0-9.e+-]+, total=(\d+)\)")


def receipts(events: list[Event]) -> list[tuple[int, int]]:
    """(worker, total) of every receipt the parent took from the results queue, in order."""
    found = []
    for e in events:
        if isinstance(e, QueueGet) and e.queue == "results" and e.actor == "main":
            match = RECEIPT.fullmatch(e.item)
            assert match, e.item
            found.append((int(match[1]), int(match[2])))
    return found


def shm_ops(events: list[Event]) -> list[SharedMemoryOp]:
    return [e for e in events if isinstance(e, SharedMemoryOp)]


# Results -------------------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_every_round_the_workers_sums_add_up_to_the_parents_sum(start_method: str) -> None:
    workers, repeat, sizes = 3, 2, [1, 2]
    events = run(
        array_mib=2, sizes_mib=sizes, workers=workers, repeat=repeat, start_method=start_method
    )
    got = receipts(events)
    rounds = [got[i : i + workers] for i in range(0, len(got), workers)]
    assert len(rounds) == len(sizes) * len(handover.METHODS) * repeat
    per_size = len(handover.METHODS) * repeat
    for index, expected in enumerate(expected_sums(0, sizes)):
        for one_round in rounds[index * per_size : (index + 1) * per_size]:
            assert sorted(worker for worker, _ in one_round) == list(range(workers))
            assert sum(total for _, total in one_round) == expected
    started = [e for e in events if isinstance(e, ActorStart) and e.kind == "process"]
    assert sorted(e.actor for e in started) == [f"worker-{i}" for i in range(workers)]
    assert {e.start_method for e in started} == {start_method}
    exits = {e.child: e.exit_code for e in events if isinstance(e, ProcessExit)}
    assert exits == {f"worker-{i}": 0 for i in range(workers)}


def test_the_seed_changes_the_array_and_the_sums_follow() -> None:
    events = run(array_mib=1, workers=2, repeat=1, seed=7)
    got = receipts(events)
    assert sum(total for _, total in got[:2]) == expected_sums(7, [1])[0]
    assert expected_sums(7, [1]) != expected_sums(0, [1])


def test_a_wrong_sum_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUN_ID_ENV, "t" + uuid.uuid4().hex[:10])
    p = HandoverParams(array_mib=1, workers=1, repeat=1, start_method="fork")
    lab = Lab(p)
    with handover.team(lab, 1) as team, shm.create(8, np.int64, "wrong") as array:
        array.array[...] = 1
        assert handover.hand_over(team, array, "shm", expected=8) >= 0
        with pytest.raises(AssertionError, match="sums add up to 8, not 9"):
            handover.hand_over(team, array, "pickle", expected=9)


# Metrics -------------------------------------------------------------------------------


def test_every_method_and_size_of_the_sweep_is_reported_with_the_ratio() -> None:
    events = run(array_mib=20, sweep=True, workers=2, repeat=1)
    sizes = ["1", "4", "16", "20"]
    handed = metrics(events, "handover_s")
    assert set(handed) == {(method, size) for method in ("pickle", "shm") for size in sizes}
    assert all(seconds > 0 for seconds in handed.values())
    ratios = metrics(events, "shm_over_pickle")
    assert set(ratios) == {("", size) for size in sizes}
    for size in sizes:
        shared, pickled = handed["shm", size], handed["pickle", size]
        assert ratios["", size] == pytest.approx(shared / pickled)


@pytest.mark.parametrize(
    ("params", "sizes"),
    [
        ({"array_mib": 3}, [3]),
        ({"array_mib": 64, "sweep": True}, [1, 4, 16, 64]),
        ({"array_mib": 100, "sweep": True}, [1, 4, 16, 64, 100]),
        ({"array_mib": 1, "sweep": True}, [1]),
        ({"array_mib": 8, "sizes_mib": [8, 2, 2]}, [2, 8]),
    ],
)
def test_the_sizes_come_from_sizes_mib_or_the_sweep(
    params: dict[str, Any], sizes: list[int]
) -> None:
    assert handover.sizes(HandoverParams(**params)) == sizes


# Shared memory -------------------------------------------------------------------------


def test_the_lab_unlinks_every_segment_it_made_without_the_runners_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = "t" + uuid.uuid4().hex[:10]
    monkeypatch.setenv(RUN_ID_ENV, run_id)
    p = HandoverParams(array_mib=4, sizes_mib=(1, 4), workers=2, repeat=1, start_method="fork")
    comparisons = handover.compare_sizes(p, Lab(p))  # in this process: no runner, no sweep
    assert [c.size_mib for c in comparisons] == [1, 4]
    left = [n for n in os.listdir(shm.SHM_DIR) if n.startswith(shm.prefix(run_id))]
    shm.sweep(run_id)
    assert left == []


def test_each_segment_is_created_and_unlinked_by_main_and_attached_by_every_worker() -> None:
    workers, repeat = 2, 2
    ops = shm_ops(run(array_mib=2, sizes_mib=[1, 2], workers=workers, repeat=repeat))
    segments = {e.segment for e in ops}
    assert len(segments) == 2
    for segment in segments:
        mine = [e for e in ops if e.segment == segment]
        owner = [(e.actor, e.op) for e in mine if e.actor == "main"]
        assert owner == [("main", "create"), ("main", "close"), ("main", "unlink")]
        attached = Counter((e.actor, e.op) for e in mine if e.actor != "main")
        assert attached == {
            (f"worker-{i}", op): repeat for i in range(workers) for op in ("attach", "close")
        }
        assert {e.array for e in mine} == {f"int64[{mine[0].size // 8}]"}


def test_pickled_slices_show_in_the_workers_lanes_and_handles_name_the_segment() -> None:
    events = run(array_mib=1, workers=2, repeat=1)
    items: dict[str, list[str]] = {}
    for e in events:
        if isinstance(e, QueueGet) and e.actor.startswith("worker"):
            items.setdefault(e.actor, []).append(e.item)
    (segment,) = {e.segment for e in shm_ops(events)}
    assert items == {
        "worker-0": [
            "slice 0 [0:65536] pickled (0.5 MiB)",
            f"slice 0 [0:65536] of {segment}",
            "None",
        ],
        "worker-1": [
            "slice 1 [65536:131072] pickled (0.5 MiB)",
            f"slice 1 [65536:131072] of {segment}",
            "None",
        ],
    }


# Limits --------------------------------------------------------------------------------


def test_the_machines_cap_refuses_a_larger_array_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(common.ARRAY_LIMIT_ENV, "8")
    outcome, events = run_scenario("L3.1", array_mib=16)
    assert outcome.status == "failed"
    assert (
        "InvalidInput: array_mib=16 needs a 16 MiB array, above this machine's limit of "
        "8 MiB (PARALAB_MAX_ARRAY_MIB)" in outcome.error
    )
    assert shm_ops(events) == []  # refused before anything was made
    assert not any(isinstance(e, ActorStart) and e.kind == "process" for e in events)


def test_at_the_cap_the_lab_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(common.ARRAY_LIMIT_ENV, "2")
    assert metrics(run(array_mib=2, repeat=1), "shm_over_pickle")


def test_without_the_variable_the_cap_is_1024_mib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(common.ARRAY_LIMIT_ENV, raising=False)
    common.check_array_size(1024 * common.MIB, "array_mib=1024")
    with pytest.raises(InvalidInput, match="limit of 1024 MiB"):
        common.check_array_size(1025 * common.MIB, "array_mib=1025")


def test_a_cap_that_is_not_a_number_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(common.ARRAY_LIMIT_ENV, "lots")
    with pytest.raises(InvalidInput, match="PARALAB_MAX_ARRAY_MIB='lots' is not a whole number"):
        common.check_array_size(common.MIB, "array_mib=1")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"array_mib": 4097}, "<= 4096"),
        ({"array_mib": 4, "sizes_mib": [8]}, "at most array_mib=4"),
        ({"sizes_mib": [0]}, ">= 1"),
        ({"sizes_mib": [1], "sweep": True}, "sizes_mib or sweep=true, not both"),
        ({"workers": 17}, "<= 16"),
    ],
)
def test_bad_parameters_are_refused_before_the_run(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        find("L3.1").validate(params)


def test_the_parameter_schema_bounds_the_array() -> None:
    _, components = msgspec.json.schema_components([HandoverParams])
    properties = components["HandoverParams"]["properties"]
    assert properties["array_mib"]["maximum"] == 4096
    assert properties["array_mib"]["default"] == 64
    assert properties["sizes_mib"]["items"]["maximum"] == 4096
    assert list(properties["sizes_mib"]["default"]) == []
