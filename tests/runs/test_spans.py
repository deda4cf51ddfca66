"""Every golden case of tests/golden/span-rules.json through spans.py, and through the
Chrome trace built on it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, get_args

import msgspec
import pytest

from paralab.lab.events import Event
from paralab.runs.records import Run
from paralab.runs.spans import Instant, InstantKind, Record, Span, SpanBuilder, SpanKind
from paralab.runs.trace import chrome_trace_chunks
from tests.golden.span_rules import (
    INSTANT_FIELDS,
    Case,
    decoded_events,
    load_cases,
    normal_instants,
    normal_spans,
)

CASES = load_cases()
BY_NAME = pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])


def pages(events: list[Event], size: int) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def records_of(events: list[Event], page_size: int) -> list[Record]:
    builder = SpanBuilder()
    records: list[Record] = []
    for page in pages(events, page_size):
        for event in page:
            builder.add(event)
        records += builder.take()
    return records + builder.finish()


@BY_NAME
@pytest.mark.parametrize("page_size", [1, 3, 1000])
def test_spans_follow_the_golden_rules(case: Case, page_size: int) -> None:
    records = records_of(decoded_events(case), page_size)
    spans = [msgspec.to_builtins(r) for r in records if isinstance(r, Span)]
    instants = [
        {name: getattr(r, name) for name in INSTANT_FIELDS}
        for r in records
        if isinstance(r, Instant)
    ]
    assert normal_spans(spans) == normal_spans(case["spans"])
    assert normal_instants(instants) == normal_instants(case["instants"])


def trace_of(events: list[Event]) -> list[dict[str, Any]]:
    run = Run(
        id="r", scenario_id="G1.1", params={}, status="succeeded", created_at=datetime.now(UTC)
    )
    document = json.loads(b"".join(chrome_trace_chunks(run, pages(events, 2))))
    trace: list[dict[str, Any]] = document["traceEvents"]
    return trace


def ns(us: float) -> int:
    return round(us * 1000)


@BY_NAME
def test_the_trace_has_exactly_the_golden_spans_and_instants(case: Case) -> None:
    events = decoded_events(case)
    last_ns = max(event.t_ns for event in events)
    trace = trace_of(events)
    actors = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace if e["name"] == "thread_name"}
    spans = []
    for e in [e for e in trace if e["ph"] == "X"]:
        args = dict(e["args"])
        start_ns = ns(e["ts"])
        end_ns: int | None = ns(e["ts"] + e["dur"])
        if args.pop("unfinished", False):
            assert e["name"].endswith(" (unfinished)")
            assert end_ns == max(last_ns, start_ns + 1)  # closed at the last event
            end_ns = None
        actor = actors[(e["pid"], e["tid"])]
        spans.append(
            {"actor": actor, "pid": e["pid"], "tid": e["tid"], "kind": e["cat"]}
            | {"start_ns": start_ns, "end_ns": end_ns, **args}
        )
    instants = [
        {"actor": actors[(e["pid"], e["tid"])], "pid": e["pid"], "tid": e["tid"]}
        | {"kind": e["cat"], "t_ns": ns(e["ts"]), "text": e["name"]}
        for e in trace
        if e["ph"] == "i" and e["cat"] != "run"
    ]
    # The trace gives a zero-length span 1 ns, so it can be seen.
    expected = [
        span | {"end_ns": max(span["end_ns"], span["start_ns"] + 1)}
        if span["end_ns"] is not None
        else span
        for span in case["spans"]
    ]
    assert normal_spans(spans) == normal_spans(expected)
    assert normal_instants(instants) == normal_instants(case["instants"])
    run_instants = [e["name"] for e in trace if e["ph"] == "i" and e["cat"] == "run"]
    assert run_instants == [f"run {e['status']}" for e in case["events"] if e["type"] == "run"]


def test_the_golden_cases_are_well_formed_and_cover_every_kind() -> None:
    assert len({case["name"] for case in CASES}) == len(CASES)
    for case in CASES:
        assert [e["seq"] for e in case["events"]] == list(range(1, len(case["events"]) + 1))
        decoded_events(case)  # every event is valid
    event_types = {e["type"] for case in CASES for e in case["events"]}
    assert event_types == {cls.__struct_config__.tag for cls in get_args(Event)}
    span_kinds = {s["kind"] for case in CASES for s in case["spans"]}
    assert span_kinds == set(get_args(SpanKind))
    instant_kinds = {i["kind"] for case in CASES for i in case["instants"]}
    assert instant_kinds == set(get_args(InstantKind))
    reasons = {s.get("gave_up") for case in CASES for s in case["spans"]} - {None}
    assert reasons == {"would_block", "timeout", "broken"}
    killers = {s.get("killed_by") for case in CASES for s in case["spans"]} - {None}
    assert killers == {"terminate", "kill", "parent_exit", "SIGKILL"}
    methods = {s.get("start_method") for case in CASES for s in case["spans"]} - {None}
    assert methods == {"fork", "spawn", "forkserver"}
