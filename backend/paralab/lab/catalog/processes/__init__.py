"""Part P of the catalog: process scenarios P1-P8 (SCENARIOS.md, Part 2)."""

from __future__ import annotations

from paralab.lab.catalog.processes import basics, sync
from paralab.lab.scenario import Scenario

SCENARIOS: list[Scenario] = [*basics.SCENARIOS, *sync.SCENARIOS]
