"""The golden span rules (``span-rules.json``): hand-written cases of events with the spans
and instants they must give, and the one normal form every result is compared in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypedDict

import msgspec

from paralab.lab.events import Event

PATH = Path(__file__).with_name("span-rules.json")
SPAN_FIELDS = (
    "actor",
    "pid",
    "tid",
    "kind",
    "start_ns",
    "end_ns",
    "primitive",
    "obj",
    "value",
    "gave_up",
    "pool",
    "task",
    "exit_code",
    "start_method",
    "killed_by",
)
INSTANT_FIELDS = ("actor", "pid", "tid", "kind", "t_ns", "text")


class Case(TypedDict):
    name: str
    events: list[dict[str, Any]]
    spans: list[dict[str, Any]]
    instants: list[dict[str, Any]]


def load_cases() -> list[Case]:
    cases: list[Case] = json.loads(PATH.read_text())
    return cases


def decoded_events(case: Case) -> list[Event]:
    return [msgspec.convert(event, Event) for event in case["events"]]


def api_events(case: Case) -> list[dict[str, Any]]:
    """The events as the API sends them: every field, defaults included."""
    return [json.loads(msgspec.json.encode(event)) for event in decoded_events(case)]


def normal_spans(spans: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Known fields only, absent details (None) left out; ``end_ns`` is always there."""
    return sorted((_normal(span, SPAN_FIELDS, "end_ns") for span in spans), key=_order)


def normal_instants(instants: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted((_normal(instant, INSTANT_FIELDS) for instant in instants), key=_order)


def _normal(record: Mapping[str, Any], fields: tuple[str, ...], *required: str) -> dict[str, Any]:
    if unknown := set(record) - set(fields):
        raise ValueError(f"unknown fields {sorted(unknown)} in {dict(record)}")
    if missing := set(required) - set(record):
        raise ValueError(f"missing fields {sorted(missing)} in {dict(record)}")
    normal = {name: record.get(name) for name in fields}
    return {name: value for name, value in normal.items() if value is not None or name in required}


def _order(record: dict[str, Any]) -> tuple[Any, ...]:
    start = record.get("start_ns", record.get("t_ns"))
    return (record["actor"], record["tid"], start, json.dumps(record, sort_keys=True))
