"""The in-memory fan-out: who gets a run's live batches, and when an inbox ends or lags."""

from __future__ import annotations

import asyncio

import pytest

from paralab.runs import fanout
from paralab.runs.fanout import MemoryFanout


def batch(*seqs: int) -> fanout.Batch:
    return [(seq, b"{}") for seq in seqs]


def test_every_subscriber_of_a_run_gets_its_batches_and_no_other_runs() -> None:
    hub = MemoryFanout()
    hub.open("a")
    hub.open("b")
    first, second, other = hub.subscribe("a"), hub.subscribe("a"), hub.subscribe("b")
    assert first is not None
    assert second is not None
    assert other is not None
    hub.publish("a", batch(1, 2))
    hub.publish("a", batch(3))
    assert first.take() == [batch(1, 2), batch(3)]
    assert second.take() == [batch(1, 2), batch(3)]
    assert other.take() == []
    assert first.take() == []  # taken once


def test_closing_a_run_ends_its_inboxes_and_later_subscribers_get_none() -> None:
    hub = MemoryFanout()
    hub.open("a")
    inbox = hub.subscribe("a")
    assert inbox is not None
    hub.close("a")
    assert inbox.ended
    assert hub.subscribe("a") is None
    assert hub.subscribe("never-opened") is None
    assert hub.subscriber_count("a") == 0


def test_unsubscribed_inboxes_get_nothing_more() -> None:
    hub = MemoryFanout()
    hub.open("a")
    inbox = hub.subscribe("a")
    assert inbox is not None
    assert hub.subscriber_count("a") == 1
    hub.unsubscribe("a", inbox)
    hub.publish("a", batch(1))
    assert hub.subscriber_count("a") == 0
    assert inbox.take() == []


def test_a_full_inbox_lags_instead_of_growing_until_it_catches_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout, "MAX_PENDING_BATCHES", 2)
    hub = MemoryFanout()
    hub.open("a")
    inbox = hub.subscribe("a")
    assert inbox is not None
    for seq in range(1, 6):
        hub.publish("a", batch(seq))
    assert inbox.lagging
    assert inbox.take() == []  # dropped: the store has them
    inbox.catch_up()
    hub.publish("a", batch(6))
    assert not inbox.lagging
    assert inbox.take() == [batch(6)]


async def test_wait_returns_when_a_batch_arrives_and_at_once_when_one_is_pending() -> None:
    hub = MemoryFanout()
    hub.open("a")
    inbox = hub.subscribe("a")
    assert inbox is not None
    waiter = asyncio.create_task(inbox.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    hub.publish("a", batch(1))
    await asyncio.wait_for(waiter, timeout=5)
    await asyncio.wait_for(inbox.wait(), timeout=5)  # still pending: no wait
    assert inbox.pending
