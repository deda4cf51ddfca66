"""Shared memory across real processes: data, ownership, the resource tracker, sweep, events.

Every test runs under its own run id and checks that it left nothing in /dev/shm."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import DTypeLike

from paralab.lab import shm
from paralab.lab.bootstrap import RUN_ID_ENV
from paralab.lab.events import Event, SharedMemoryOp
from paralab.lab.runner import run_child
from tests.lab.recording import Recorded, recording

pytestmark = pytest.mark.skipif(not os.path.isdir(shm.SHM_DIR), reason="needs /dev/shm")


def fresh_id() -> str:
    return "t" + uuid.uuid4().hex[:10]


def names(run_id: str) -> list[str]:
    return sorted(n for n in os.listdir(shm.SHM_DIR) if n.startswith(shm.prefix(run_id)))


def exists(name: str) -> bool:
    return os.path.exists(os.path.join(shm.SHM_DIR, name))


def leftover(name: str) -> None:
    """A segment nobody will unlink (and no resource tracker knows about)."""
    fd = os.open(os.path.join(shm.SHM_DIR, name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    os.ftruncate(fd, 16)
    os.close(fd)


@pytest.fixture(autouse=True)
def run_id(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This test's run id, in the environment (children inherit it); nothing may be left."""
    rid = fresh_id()
    monkeypatch.setenv(RUN_ID_ENV, rid)
    yield rid
    left = names(rid)
    shm.sweep(rid)
    assert left == []


def python(script: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``script`` as a file (spawn and forkserver children re-import ``__main__``)."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    return subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=60
    )


# -- data between real processes ---------------------------------------------------------


def double(source: shm.Handle, result: shm.Handle) -> None:
    with shm.attach(source) as src, shm.attach(result) as out:
        out.array[...] = src.array * 2


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_child_sees_the_owners_data_and_the_owner_sees_the_childs(method: str) -> None:
    data = np.arange(12, dtype=np.int32).reshape(3, 4)
    ctx = multiprocessing.get_context(method)
    with shm.share(data, "src") as src, shm.create((3, 4), np.int32, "out") as out:
        child = ctx.Process(target=double, args=(src.handle, out.handle))  # type: ignore[attr-defined]
        child.start()
        child.join(timeout=30)
        assert child.exitcode == 0
        np.testing.assert_array_equal(out.array, data * 2)
        assert exists(src.name)  # the attacher's exit did not unlink it
        assert exists(out.name)
        held = [src.name, out.name]
    assert not any(exists(name) for name in held)


# Each child attaches, reads and writes its slot; several at once share one tracker.
TRACKER_SCRIPT = """
    import multiprocessing as mp, os, sys
    import numpy as np
    from paralab.lab import shm

    def work(data, out, i):
        with shm.attach(data) as seg, shm.attach(out) as res:
            res.array[i] = seg.array.sum() + i

    if __name__ == "__main__":
        ctx = mp.get_context(sys.argv[1])
        with shm.share(np.arange(1000, dtype=np.int64), "data") as data:
            with shm.create(4, np.int64, "out") as out:
                args = [(data.handle, out.handle, i) for i in range(4)]
                kids = [ctx.Process(target=work, args=a) for a in args]
                for kid in kids:
                    kid.start()
                for kid in kids:
                    kid.join()
                assert [kid.exitcode for kid in kids] == [0] * 4
                assert os.path.exists("/dev/shm/" + data.name), "an attacher unlinked it"
                assert data.array[999] == 999
                print(*out.array.tolist())
            name = data.name
        assert not os.path.exists("/dev/shm/" + name)
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_attachers_exiting_leave_the_segment_and_the_tracker_quiet(
    method: str, tmp_path: Path, run_id: str
) -> None:
    result = python(TRACKER_SCRIPT, method, tmp_path=tmp_path)
    # The tracker's warnings (leaks, KeyError on unregister) reach this stderr at its exit.
    assert result.stderr == ""
    assert result.returncode == 0
    assert result.stdout.split() == [str(499500 + i) for i in range(4)]


ATTACH_SCRIPT = """
    import pickle, sys
    from paralab.lab import shm

    with shm.attach(pickle.loads(bytes.fromhex(sys.argv[1]))) as seg:
        print(int(seg.array.sum()))
        seg.array[0] = 7
"""


def test_an_unrelated_interpreter_attaching_neither_unlinks_nor_warns(tmp_path: Path) -> None:
    with shm.share(np.ones(1000, dtype=np.uint8), "img") as seg:
        result = python(ATTACH_SCRIPT, pickle.dumps(seg.handle).hex(), tmp_path=tmp_path)
        assert result.stderr == ""
        assert result.stdout.strip() == "1000"
        assert exists(seg.name)
        assert seg.array[0] == 7
        name = seg.name
    assert not exists(name)


PLAIN_ATTACH_SCRIPT = """
    import sys
    from multiprocessing.shared_memory import SharedMemory
    SharedMemory(sys.argv[1]).close()
"""


def test_the_check_would_see_a_plain_shared_memory_attach(tmp_path: Path) -> None:
    """Control: the stdlib alone, attaching from another interpreter, unlinks the owner's
    segment when that interpreter exits, and says so on stderr."""
    with shm.create(16, hint="plain") as seg:
        result = python(PLAIN_ATTACH_SCRIPT, seg.name, tmp_path=tmp_path)
        assert "leaked shared_memory" in result.stderr
        assert not exists(seg.name)


# -- ownership -------------------------------------------------------------------------


def test_the_owners_exit_unlinks_and_an_attachers_does_not() -> None:
    with shm.create((2, 3), np.float64, "grid") as owner:
        with shm.attach(owner.handle) as first, shm.attach(owner.handle) as second:
            assert not first.owner
            assert first.array.shape == (2, 3)
            assert first.array.dtype == np.float64
            assert not first.array.any()  # a new segment is zero-filled
            first.array[1, 2] = 2.5
            assert second.array[1, 2] == 2.5
            assert owner.array[1, 2] == 2.5
        assert exists(owner.name)
        assert owner.array[1, 2] == 2.5
    assert not exists(owner.name)
    with pytest.raises(FileNotFoundError):
        shm.attach(owner.handle)
    with pytest.raises(ValueError, match="closed"):
        _ = owner.array


def test_a_fork_of_the_owner_closing_it_does_not_unlink() -> None:
    with shm.create(8, hint="forked") as seg:
        pid = os.fork()
        if pid == 0:
            seg.close()
            os._exit(0 if not seg.owner and exists(seg.name) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert exists(seg.name)
        assert seg.owner
    assert not exists(seg.name)


def test_closing_while_views_are_alive_still_unlinks_and_keeps_the_views_valid() -> None:
    seg = shm.share(np.arange(4, dtype=np.int16), "views")
    view = seg.array[1:]
    seg.close()
    seg.close()  # idempotent
    assert not exists(seg.name)
    assert view.tolist() == [1, 2, 3]


def test_a_handle_is_small_picklable_and_describes_the_array() -> None:
    with shm.create((1080, 1920, 3), np.uint8, "frame") as seg:
        data = pickle.dumps(seg.handle)
        assert len(data) < 300  # the name and the layout, never the 6 MB
        assert pickle.loads(data) == seg.handle
        assert seg.handle.label == "uint8[1080, 1920, 3]"
        assert seg.handle.nbytes == seg.size == 1080 * 1920 * 3


def test_a_handle_larger_than_its_segment_is_refused() -> None:
    with shm.create(4, np.uint8, "small") as seg:
        bigger = shm.Handle(seg.name, (4,), np.dtype(np.float64).str)
        with pytest.raises(ValueError, match="smaller"):
            shm.attach(bigger)


@pytest.mark.parametrize("dtype", [object, [("x", "i4"), ("y", "f8")]])
def test_only_plain_dtypes_can_be_shared(dtype: DTypeLike) -> None:
    with pytest.raises(ValueError, match="dtype"):
        shm.create(3, dtype, "bad")


def test_an_empty_array_gets_a_one_byte_segment() -> None:
    with shm.create((0, 3), np.float32, "empty") as seg:
        assert seg.array.shape == (0, 3)
        assert seg.size == 1


# -- names -----------------------------------------------------------------------------


def test_names_carry_the_run_id_and_a_sanitised_hint(run_id: str) -> None:
    with shm.create(1, hint="my frame/../x") as a, shm.create(1, hint="x" * 1000) as b:
        assert re.fullmatch(rf"paralab-{run_id}-my_frame_x-\d+", a.name)
        assert b.name.startswith(f"paralab-{run_id}-{'x' * 32}-")
        assert len(b.name) < 255
        assert a.name != b.name


def test_a_taken_name_is_skipped(run_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shm, "_counter", itertools.count(1))
    leftover(f"paralab-{run_id}-dup-1")  # as a fork sharing the counter would have made
    with shm.create(1, hint="dup") as seg:
        assert seg.name == f"paralab-{run_id}-dup-2"
    shm.sweep(run_id)


def test_an_odd_run_id_cannot_reach_into_another_runs_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(RUN_ID_ENV, "a-b/c")
    with shm.create(1, hint="h") as seg:
        assert seg.name.startswith("paralab-a_b_c-h-")
    monkeypatch.delenv(RUN_ID_ENV)
    assert shm.prefix(os.environ.get(RUN_ID_ENV, "local")) == "paralab-local-"


# -- sweep -----------------------------------------------------------------------------


def test_sweep_removes_exactly_the_runs_segments(run_id: str) -> None:
    longer, other = run_id + "2", fresh_id()  # "paralab-<id>2-" must not match "<id>"
    mine = [f"paralab-{run_id}-a-1", f"paralab-{run_id}-b-7"]
    theirs = [f"paralab-{longer}-a-1", f"paralab-{other}-a-1"]
    try:
        for name in mine + theirs:
            leftover(name)
        assert shm.sweep(run_id) == mine
        assert not any(exists(name) for name in mine)
        assert all(exists(name) for name in theirs)
        assert shm.sweep(run_id) == []
    finally:
        shm.sweep(longer)
        shm.sweep(other)
    assert not any(exists(name) for name in theirs)


KILLED_SCRIPT = """
    import multiprocessing as mp, time
    from paralab.lab import shm

    def hold():
        seg = shm.create(64, hint="kid")
        print(seg.name, flush=True)
        time.sleep(60)

    if __name__ == "__main__":
        with shm.create(64, hint="main") as seg:
            print(seg.name, flush=True)
            mp.get_context("fork").Process(target=hold).start()
            time.sleep(60)
"""


def test_a_run_killed_with_sigkill_leaves_its_segments_to_sweep(
    tmp_path: Path, run_id: str
) -> None:
    path = tmp_path / "killed.py"
    path.write_text(textwrap.dedent(KILLED_SCRIPT))
    # Its own group, as the runner starts a run: SIGKILL reaches the resource tracker too.
    process = subprocess.Popen(
        [sys.executable, str(path)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        held = sorted(process.stdout.readline().strip() for _ in range(2))
        assert all(exists(name) for name in held)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert names(run_id) == held  # no finally ran, nobody unlinked
    assert shm.sweep(run_id) == held
    assert names(run_id) == []


@pytest.mark.parametrize(
    ("scenario_id", "params", "status"),
    [
        ("T1.1", {"threads": 1, "time_scale": 0.01}, "succeeded"),
        ("X1.1", {"detect": False}, "timed_out"),
    ],
)
def test_the_runner_sweeps_the_run_after_its_child_exits(
    scenario_id: str, params: dict[str, object], status: str, run_id: str
) -> None:
    other = fresh_id()
    mine, theirs = f"paralab-{run_id}-x-1", f"paralab-{other}-x-1"
    leftover(mine)
    leftover(theirs)
    events: list[Event] = []
    try:
        limit = 30.0 if status == "succeeded" else 0.5
        outcome = asyncio.run(
            run_child(scenario_id, params, events.extend, time_limit_s=limit, run_id=run_id)
        )
        assert outcome.status == status
        assert not exists(mine)
        assert exists(theirs)
    finally:
        shm.sweep(other)


# -- events ----------------------------------------------------------------------------


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    with recording() as events:
        yield events


def test_every_operation_is_an_event_of_its_actor(recorded: Recorded) -> None:
    with shm.create((1080, 1920, 3), np.uint8, "frame") as owner, shm.attach(owner.handle):
        pass
    ops = [e for e in recorded() if isinstance(e, SharedMemoryOp)]
    assert [e.op for e in ops] == ["create", "attach", "close", "close", "unlink"]
    assert {e.segment for e in ops} == {owner.name}
    assert {e.size for e in ops} == {1080 * 1920 * 3}
    assert {e.array for e in ops} == {"uint8[1080, 1920, 3]"}
    assert {(e.pid, e.actor) for e in ops} == {(os.getpid(), "MainThread")}
