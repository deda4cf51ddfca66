"""Live events to a run's subscribers: one small interface, one backend per deployment.

The run store is the source of truth: every event is stored before it is published, so a
subscriber that joins late, falls behind or reconnects replays from the store and uses
the fan-out only for what is newer. ``MemoryFanout`` serves the subscribers of this
server process; a Redis-backed class with the same methods would serve several replicas.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol

from paralab.settings import ChannelsSettings

Batch = list[tuple[int, bytes]]
"""(seq, the event's JSON) in order, as stored."""

MAX_PENDING_BATCHES = 256


class Inbox(Protocol):
    """One subscriber's view of a run's live batches."""

    @property
    def lagging(self) -> bool:
        """The subscriber fell too far behind and got no more batches: read the store."""

    @property
    def ended(self) -> bool:
        """The run has ended: nothing more will be published."""

    @property
    def pending(self) -> bool:
        """Batches are waiting to be taken."""

    def catch_up(self) -> None:
        """The subscriber is about to read the store: send it live batches again."""

    def take(self) -> list[Batch]:
        """Every batch received since the last call."""

    async def wait(self) -> None:
        """Until something new arrives (a batch, the end, or falling behind); at once if
        something already has."""


class Fanout(Protocol):
    def open(self, run_id: str) -> None:
        """A run begins: subscribers may now follow it live."""

    def publish(self, run_id: str, batch: Batch) -> None:
        """Hand a stored batch to the run's current subscribers."""

    def close(self, run_id: str) -> None:
        """The run ended: every subscriber's inbox ends."""

    def subscribe(self, run_id: str) -> Inbox | None:
        """An inbox for the run's live batches; ``None`` once the run is not live."""

    def unsubscribe(self, run_id: str, inbox: Inbox) -> None: ...

    def subscriber_count(self, run_id: str) -> int:
        """How many subscribers follow the run live."""


@dataclass(eq=False)
class MemoryInbox:
    """Never grows without bound: a consumer that falls more than ``MAX_PENDING_BATCHES``
    behind is marked lagging, gets no more live batches, and catches up from the store
    instead (where every event already is)."""

    batches: list[Batch] = field(default_factory=list)
    lagging: bool = False
    ended: bool = False
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, batch: Batch) -> None:
        if not self.lagging:
            if len(self.batches) >= MAX_PENDING_BATCHES:
                self.lagging = True
                self.batches.clear()
            else:
                self.batches.append(batch)
        self._wake.set()

    def end(self) -> None:
        self.ended = True
        self._wake.set()

    @property
    def pending(self) -> bool:
        return bool(self.batches)

    def catch_up(self) -> None:
        self.lagging = False

    def take(self) -> list[Batch]:
        batches, self.batches = self.batches, []
        return batches

    async def wait(self) -> None:
        if not self.batches and not self.ended and not self.lagging:
            self._wake.clear()
            await self._wake.wait()


class MemoryFanout:
    """Subscribers in this process, each with a bounded inbox."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[MemoryInbox]] = {}

    def open(self, run_id: str) -> None:
        self._subscribers.setdefault(run_id, set())

    def publish(self, run_id: str, batch: Batch) -> None:
        for inbox in self._subscribers.get(run_id, ()):
            inbox.push(batch)

    def close(self, run_id: str) -> None:
        for inbox in self._subscribers.pop(run_id, ()):
            inbox.end()

    def subscribe(self, run_id: str) -> MemoryInbox | None:
        subscribers = self._subscribers.get(run_id)
        if subscribers is None:
            return None
        inbox = MemoryInbox()
        subscribers.add(inbox)
        return inbox

    def unsubscribe(self, run_id: str, inbox: Inbox) -> None:
        subscribers = self._subscribers.get(run_id)
        if subscribers is not None and isinstance(inbox, MemoryInbox):
            subscribers.discard(inbox)

    def subscriber_count(self, run_id: str) -> int:
        return len(self._subscribers.get(run_id, ()))


def make_fanout(settings: ChannelsSettings) -> Fanout:
    """The backend ``PARALAB_FANOUT`` names (only ``memory`` so far)."""
    if settings.fanout == "memory":
        return MemoryFanout()
    raise ValueError(f"unknown fan-out backend {settings.fanout!r}")
