"""Record a process's events in a test: an emitter on a pipe, read back and decoded."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator

from paralab.lab import traced
from paralab.lab.emitter import Emitter, FrameReader
from paralab.lab.events import Event, msgpack_decoder

Recorded = Callable[[], list[Event]]


@contextlib.contextmanager
def recording() -> Iterator[Recorded]:
    """Install an emitter on a pipe; the yielded function flushes it and returns what was
    written since the last call, in time order."""
    read_fd, write_fd = os.pipe()
    emitter = Emitter(write_fd, origin_ns=time.monotonic_ns())
    traced.install(emitter)
    os.set_blocking(read_fd, False)
    reader = FrameReader()

    def events() -> list[Event]:
        emitter.flush()
        data = b""
        while True:
            try:
                chunk = os.read(read_fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        decoded = [msgpack_decoder.decode(frame) for frame in reader.feed(data)]
        return sorted(decoded, key=lambda e: e.t_ns)

    try:
        yield events
    finally:
        traced.install(None)
        os.close(read_fd)
        os.close(write_fd)
