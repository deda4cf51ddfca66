"""Part T of the catalog: thread scenarios T1-T7 (SCENARIOS.md, Part 1)."""

from __future__ import annotations

from paralab.lab.catalog.threads import basics, locks, signals
from paralab.lab.scenario import Scenario

SCENARIOS: list[Scenario] = [*basics.SCENARIOS, *locks.SCENARIOS, *signals.SCENARIOS]
