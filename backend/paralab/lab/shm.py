"""Shared memory for a run's processes: the one place segments are created, attached,
closed, unlinked and swept.

A segment is named ``paralab-<run_id>-<hint>-<n>``, so whatever a run leaves behind (a
process killed with SIGKILL never reaches its ``finally``) can be found and removed by
``sweep`` once the run is over. Workers get a ``Handle`` (name, shape, dtype), never the
data, and map the same memory as a numpy array.

Lifetime: the creator (``create``/``share``) owns the segment and unlinks it when its
``Segment`` closes; attachers only close. Python 3.11's ``SharedMemory`` registers every
segment it opens with the resource tracker, attached ones too, and the tracker keeps a
*set* of names: a process with its own tracker (anything not started by multiprocessing)
would unlink the owner's segment and warn about a leak when it exits, and unregistering
right after attaching is no cure when the tracker is shared (multiprocessing's fork,
spawn and forkserver children all write to their parent's tracker): it erases the
owner's entry, and the owner's unlink then makes the tracker print a KeyError. So only
the owner goes through ``SharedMemory`` (and the tracker, which unlinks the segment if
the owner dies without doing so); attachers map ``/dev/shm/<name>`` themselves and are
never registered, whatever started them. Linux only, as is ``/dev/shm``.

Every create/attach/close/unlink is a ``SharedMemoryOp`` event of the calling actor.

Under spawn and forkserver, multiprocessing's locks, semaphores and queues are named POSIX
semaphores, files in ``/dev/shm`` too, until their creator unlinks them (or its resource
tracker does, but a run's process group is killed with its tracker in it). Every process
of a run names them after the run (``name_semaphores``), so ``sweep`` removes those too.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import mmap
import multiprocessing
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from types import TracebackType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from paralab.lab.bootstrap import current_run_id
from paralab.lab.events import SharedMemoryOp
from paralab.lab.traced import emit

SHM_DIR = "/dev/shm"
_counter = itertools.count(1)


@dataclass(frozen=True)
class Handle:
    """What is sent to workers: enough to attach, a few hundred bytes whatever the size."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    """``numpy.dtype.str``, e.g. ``|u1`` or ``<f8``"""

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize

    @property
    def label(self) -> str:
        """``uint8[1080, 1920, 3]``"""
        return f"{np.dtype(self.dtype).name}[{', '.join(map(str, self.shape))}]"


class Segment:
    """One process's mapping of a segment, viewed as ``array``; a context manager whose
    exit closes the mapping (and unlinks the segment, in the process that created it)."""

    def __init__(self, handle: Handle, memory: mmap.mmap, owner: SharedMemory | None) -> None:
        self.handle = handle
        self.size = len(memory)
        self._memory = memory
        self._owner = owner
        self._owner_pid = os.getpid()
        # frombuffer, not ndarray(buffer=...): its views hold a buffer export, so the
        # mapping cannot be closed under them (ndarray(buffer=mmap) would segfault).
        count = math.prod(handle.shape)
        flat = np.frombuffer(memory, dtype=np.dtype(handle.dtype), count=count)
        self._array: NDArray[Any] | None = flat.reshape(handle.shape)

    @property
    def name(self) -> str:
        return self.handle.name

    @property
    def array(self) -> NDArray[Any]:
        if self._array is None:
            raise ValueError(f"shared memory segment {self.name} is closed")
        return self._array

    @property
    def owner(self) -> bool:
        """Whether closing this segment here also unlinks it (its creator, not a fork)."""
        return self._owner is not None and os.getpid() == self._owner_pid

    def close(self) -> None:
        """Unmap (views still alive keep the memory until they are collected); the owner
        also unlinks the name. Idempotent."""
        if self._array is None:
            return
        self._array = None
        with contextlib.suppress(BufferError):  # unmapped when the last view is collected
            self._memory.close()
        del self._memory
        _emit("close", self.handle, self.size)
        if self._owner is not None and self.owner:
            try:
                self._owner.unlink()
            except FileNotFoundError:  # removed by someone else; the tracker still has it
                resource_tracker.unregister(f"/{self.name}", "shared_memory")
            _emit("unlink", self.handle, self.size)

    def __enter__(self) -> Segment:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        role = "owner" if self.owner else "attached"
        return f"<Segment {self.name} {self.handle.label} {role}>"


def create(shape: int | Sequence[int], dtype: DTypeLike = np.uint8, hint: str = "array") -> Segment:
    """A new zero-filled segment of this run, owned (and unlinked) by the caller."""
    kind = np.dtype(dtype)
    if kind.hasobject or np.dtype(kind.str) != kind:  # objects are pointers; no records
        raise ValueError(f"dtype {kind} cannot be shared (plain numeric dtypes only)")
    dims = (shape,) if isinstance(shape, int) else tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"negative dimension in shape {dims}")
    size = max(math.prod(dims) * kind.itemsize, 1)  # POSIX shm cannot be empty
    stem = f"{prefix(current_run_id())}{_clean(hint, 32, 'array')}-"
    while True:
        name = f"{stem}{next(_counter)}"
        try:
            owner = SharedMemory(name, create=True, size=size)
            break
        except FileExistsError:  # a fork shares this counter; take the next number
            continue
    try:
        memory = _map(name)
    except BaseException:
        owner.close()
        owner.unlink()
        raise
    owner.close()  # its own mapping: the object is kept for unlink (and the tracker) only
    segment = Segment(Handle(name, dims, kind.str), memory, owner)
    _emit("create", segment.handle, segment.size)
    return segment


def share(data: ArrayLike, hint: str = "array") -> Segment:
    """A new segment holding a copy of ``data``."""
    source = np.asarray(data)
    segment = create(source.shape, source.dtype, hint)
    segment.array[...] = source
    return segment


def attach(handle: Handle) -> Segment:
    """Map an existing segment; closing it never unlinks, and no resource tracker is told."""
    memory = _map(handle.name)
    if len(memory) < handle.nbytes:
        memory.close()
        raise ValueError(f"segment {handle.name} is smaller than {handle.label}")
    segment = Segment(handle, memory, None)
    _emit("attach", handle, segment.size)
    return segment


def prefix(run_id: str) -> str:
    """The start of every segment name of run ``run_id``."""
    return f"paralab-{_clean(run_id, 64, 'local')}-"


def name_semaphores(run_id: str) -> None:
    """Name the semaphores this process makes ``/dev/shm/sem.paralab-<run_id>-sem-...``
    (multiprocessing: ``sem.mp-...``), and those of the processes it forks."""
    multiprocessing.current_process()._config["semprefix"] = f"/{prefix(run_id)}sem"  # type: ignore[attr-defined]


def sweep(run_id: str) -> list[str]:
    """Remove every segment and named semaphore ``run_id`` left behind; returns their
    names."""
    start = prefix(run_id)
    try:
        names = sorted(n for n in os.listdir(SHM_DIR) if n.startswith((start, f"sem.{start}")))
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(SHM_DIR, name))
            removed.append(name)
    return removed


def _map(name: str) -> mmap.mmap:
    fd = os.open(os.path.join(SHM_DIR, name), os.O_RDWR)
    try:
        return mmap.mmap(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)  # the mapping outlives the descriptor


def _clean(text: str, limit: int, default: str) -> str:
    """Letters, digits and ``_`` only: ``-`` separates the parts of a name, and a run's
    prefix must not be the start of another run's."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text)[:limit] or default


def _emit(op: Literal["create", "attach", "close", "unlink"], handle: Handle, size: int) -> None:
    emit(SharedMemoryOp, op=op, segment=handle.name, size=size, array=handle.label)
