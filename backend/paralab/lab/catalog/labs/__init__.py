"""Part L of the catalog: data-parallel labs L1-L4 (SCENARIOS.md, Part 3)."""

from __future__ import annotations

from paralab.lab.catalog.labs import handover, images, preprocess, primes
from paralab.lab.scenario import Scenario

SCENARIOS: list[Scenario] = [
    *primes.SCENARIOS,
    *images.SCENARIOS,
    *handover.SCENARIOS,
    *preprocess.SCENARIOS,
]
