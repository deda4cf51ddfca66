"""How a scenario process (and every process it forks) gets its event emitter.

The run's main process takes over the pipe that was stdout for framed events and points
fd 1 at stderr, so stray writes (C code, subprocesses) reach the server as raw output and
cannot corrupt frames. A forked child inherits the emitter and its pipe; it only needs a
fresh buffer and lock (the parent's may have been mid-write at the fork), which is
registered here. Process scenarios add the spawn side (a spawned child starts empty and
must be handed the pipe and the run's clock origin) to this module.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading

from paralab.lab import traced
from paralab.lab.emitter import Emitter
from paralab.lab.events import Output


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


def start_emitting(origin_ns: int) -> Emitter:
    """Make this process (the run's main process) emit framed events on the pipe that was
    its stdout, and route printed lines, forks, exit and SIGTERM through the emitter."""
    events_fd = os.dup(1)
    os.dup2(2, 1)
    emitter = Emitter(events_fd, origin_ns)
    os.register_at_fork(after_in_child=emitter.reset_after_fork)
    traced.install(emitter)
    # Threads still running after main() (non-daemon) emit until the interpreter exits;
    # SIGTERM (cancel, time limit) must not drop what is buffered either.
    atexit.register(emitter.flush)
    signal.signal(signal.SIGTERM, lambda *_: _flush_and_exit(emitter))
    sys.stdout = _PrintToEvents()
    return emitter


def _flush_and_exit(emitter: Emitter) -> None:
    emitter.flush(timeout_s=0.5)
    os._exit(128 + signal.SIGTERM)
