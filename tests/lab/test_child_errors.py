"""A run's error text keeps the scenario's traceback without this machine's paths."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from paralab.lab import child
from paralab.lab.catalog import find
from paralab.lab.catalog.labs.common import ARRAY_LIMIT_ENV
from paralab.lab.events import Event
from paralab.lab.runner import run_child

REPO = Path(__file__).resolve().parents[2]


def failing_traceback(fail: object) -> str:
    try:
        fail()  # type: ignore[operator]
    except Exception:
        return child.scenario_traceback()
    raise AssertionError("it did not fail")


def test_our_frames_are_shown_from_the_package_and_others_by_their_library() -> None:
    def parse_then_look_up() -> None:
        try:
            json.loads("{")
        except ValueError as exc:
            raise LookupError(find("NOPE").id) from exc

    text = failing_traceback(parse_then_look_up)
    assert 'File "paralab/lab/catalog/__init__.py"' in text
    assert 'File "<python>/json/decoder.py"' in text  # the cause's frames too
    assert "UnknownScenario" in text
    assert "During handling of the above exception" in text  # the context is kept
    for absolute in {str(Path(child.__file__).parents[2]), sys.prefix, sys.base_prefix}:
        assert absolute not in text


def test_a_real_failing_run_reports_the_traceback_with_relative_paths() -> None:
    events: list[Event] = []
    outcome = asyncio.run(
        run_child(
            "L3.1",
            {"array_mib": 8, "workers": 1},
            events.extend,
            time_limit_s=60,
            env={ARRAY_LIMIT_ENV: "1"},  # the lab refuses an array above the limit
        )
    )
    assert outcome.status == "failed"
    assert "Traceback (most recent call last)" in outcome.error
    assert 'File "paralab/lab/catalog/labs/' in outcome.error
    assert "above this machine's limit of 1 MiB" in outcome.error
    assert str(REPO) not in outcome.error
