"""How every process of a run gets its event emitter.

The run's main process takes over the pipe that was stdout for framed events and points
fd 1 at stderr, so stray writes (C code, subprocesses) reach the server as raw output and
cannot corrupt frames. A forked child inherits the emitter and its pipe; it only needs a
fresh buffer and lock (the parent's may have been mid-write at the fork), registered here.
A spawned or forkserver child starts empty: it is handed an ``EmitterLink`` (the pipe, as
a file descriptor multiprocessing passes to the child, and the run's clock origin) and
``connect``s with it.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import sys
import tempfile
import threading
from multiprocessing import reduction
from pathlib import Path
from typing import Any

from paralab.lab import traced
from paralab.lab.emitter import Emitter
from paralab.lab.events import Artifact, Output
from paralab.lab.traced.emit import current_emitter

RUN_ID_ENV = "PARALAB_RUN_ID"
"""Every process of a run finds the run's id here (shared-memory names carry it)."""
ARTIFACTS_ENV = "PARALAB_ARTIFACTS_DIR"
"""Where the run keeps the files it makes (pictures, tables)."""
ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def current_run_id() -> str:
    """The id of the run this process belongs to (``local`` outside a run)."""
    return os.environ.get(RUN_ID_ENV, "local")


class _PrintToEvents:
    """sys.stdout replacement: each printed line becomes an Output event of its thread."""

    def __init__(self) -> None:
        self._partial: dict[int, str] = {}

    def write(self, text: str) -> int:
        key = threading.get_ident()
        pending = self._partial.get(key, "") + text
        *lines, rest = pending.split("\n")
        for line in lines:
            traced.emit(Output, line=line)
        self._partial[key] = rest
        return len(text)

    def flush(self) -> None:
        rest = self._partial.pop(threading.get_ident(), "")
        if rest:
            traced.emit(Output, line=rest)


def save_artifact(name: str, data: bytes, media_type: str, description: str = "") -> Path:
    """Keep a file with the run and say so with an ``artifact`` event."""
    if not ARTIFACT_NAME.fullmatch(name):
        raise ValueError(f"artifact names are letters, digits, '.', '_', '-': {name!r}")
    folder = Path(os.environ.get(ARTIFACTS_ENV) or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    traced.emit(Artifact, name=name, media_type=media_type, size=len(data), description=description)
    return path


def start_emitting(origin_ns: int) -> Emitter:
    """Make this process (the run's main process) emit framed events on the pipe that was
    its stdout, and route printed lines, forks, exit and SIGTERM through the emitter."""
    events_fd = os.dup(1)
    os.dup2(2, 1)
    emitter = Emitter(events_fd, origin_ns)
    os.register_at_fork(after_in_child=emitter.reset_after_fork)
    _hand_sigterm_to_forks()
    traced.install(emitter)
    # Threads still running after main() (non-daemon) emit until the interpreter exits;
    # SIGTERM (cancel, time limit) must not drop what is buffered either.
    atexit.register(emitter.flush)
    signal.signal(signal.SIGTERM, lambda *_: _flush_and_exit(emitter))
    sys.stdout = _PrintToEvents()
    return emitter


def _hand_sigterm_to_forks() -> None:
    """A signal that reaches a forked child before Python's after-fork bookkeeping is
    silently dropped, and one that comes later would run the parent's handler: block
    SIGTERM across the fork, and give the child the default action before unblocking,
    so ``terminate()`` right after ``start()`` kills the child (-SIGTERM) as it should."""
    block = {signal.SIGTERM}
    os.register_at_fork(
        before=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, block),
        after_in_parent=lambda: signal.pthread_sigmask(signal.SIG_UNBLOCK, block),
        after_in_child=lambda: _default_sigterm(block),
    )


def _default_sigterm(block: set[signal.Signals]) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, block)


def _flush_and_exit(emitter: Emitter) -> None:
    emitter.flush(timeout_s=0.5)
    os._exit(128 + signal.SIGTERM)


class EmitterLink:
    """What a new process needs to emit into its run's stream. Pickled for spawn and
    forkserver children: the pipe then travels as a descriptor passed to the child."""

    def __init__(self, fd: int, origin_ns: int) -> None:
        self.fd = fd
        self.origin_ns = origin_ns

    def __reduce__(self) -> tuple[Any, ...]:
        return (_link_from, (reduction.DupFd(self.fd), self.origin_ns))


def _link_from(fd_handle: Any, origin_ns: int) -> EmitterLink:
    return EmitterLink(fd_handle.detach(), origin_ns)


def current_link() -> EmitterLink | None:
    """The link to hand to a process this one starts (``None``: events are not recorded)."""
    emitter = current_emitter()
    return EmitterLink(emitter.fd, emitter.origin_ns) if emitter else None


def connect(link: EmitterLink | None, actor: str) -> None:
    """In a new process of the run: emit into the run's stream, as ``actor``. A forked
    child keeps the emitter it inherited; a spawned one gets its own on the passed pipe."""
    threading.current_thread().name = actor
    if link is None:
        return
    if current_emitter() is None:
        emitter = Emitter(link.fd, link.origin_ns)
        os.register_at_fork(after_in_child=emitter.reset_after_fork)
        traced.install(emitter)
        sys.stdout = _PrintToEvents()
    # terminate() must leave the exit code a signal gives (-SIGTERM), after a flush.
    signal.signal(signal.SIGTERM, lambda *_: _flush_and_die())


def flush(timeout_s: float = 1.0) -> None:
    """Write what this process has buffered: a child process exits with ``os._exit``,
    which runs no ``atexit`` handler."""
    emitter = current_emitter()
    if emitter is not None:
        emitter.flush(timeout_s=timeout_s)


def _flush_and_die() -> None:
    # Short: the signal may have interrupted this very thread inside the emitter's lock.
    flush(timeout_s=0.1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
