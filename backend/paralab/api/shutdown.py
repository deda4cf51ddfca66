"""The server is stopping: open WebSocket streams say goodbye, and the server waits for
them (up to a grace period) before it closes connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Shutdown:
    def __init__(self) -> None:
        self.stopping = False
        """Set first, while the runs are cancelled: streams that end now say goodbye."""
        self.started = asyncio.Event()
        """Set when the server begins to stop: every stream ends with a going-away frame."""
        self._open = 0
        self._none_open = asyncio.Event()
        self._none_open.set()

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        """Around one stream's life, so ``begin`` knows when all have said goodbye."""
        self._open += 1
        self._none_open.clear()
        try:
            yield
        finally:
            self._open -= 1
            if not self._open:
                self._none_open.set()

    async def begin(self, grace_s: float) -> None:
        """Tell every stream, and wait up to ``grace_s`` for them all to close."""
        self.stopping = True
        self.started.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._none_open.wait()
