from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.openapi.spec import Example
from litestar.params import PathParameter

from paralab.api.errors import error_responses
from paralab.lab.catalog import PARTS, SCENARIOS, find
from paralab.lab.scenario import Scenario
from paralab.lab.source import scenario_source


class ScenarioSummary(msgspec.Struct, frozen=True):
    id: str
    part: str
    part_title: str
    section: str
    section_title: str
    title: str
    observe: str


class ScenarioDetail(ScenarioSummary, frozen=True):
    params_schema: dict[str, Any]
    """JSON Schema of the parameters (bounds, defaults)."""
    defaults: dict[str, Any]
    source: str
    """Python source of the scenario, as it runs."""


def _summary_fields(scenario: Scenario) -> dict[str, str]:
    return {
        "id": scenario.id,
        "part": scenario.part,
        "part_title": PARTS[scenario.part],
        "section": scenario.section,
        "section_title": scenario.section_title,
        "title": scenario.title,
        "observe": scenario.observe,
    }


def params_schema(scenario: Scenario) -> dict[str, Any]:
    """The params struct's JSON Schema, inlined (no $ref) for form generators."""
    schema = msgspec.json.schema(scenario.params)
    definitions = schema.pop("$defs", {})
    if "$ref" in schema:
        schema = definitions[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


ScenarioId = Annotated[
    str,
    PathParameter(
        description="A catalog scenario (GET /api/scenarios), e.g. T4.2.",
        examples=[Example(value="T1.1"), Example(value="T4.2")],
    ),
]


class ScenarioController(Controller):
    path = "/api/scenarios"
    tags = ["scenarios"]

    @get("/", responses=error_responses())
    async def list_scenarios(self) -> list[ScenarioSummary]:
        """The catalog, in order: part, section, scenario."""
        return [ScenarioSummary(**_summary_fields(s)) for s in SCENARIOS.values()]

    @get("/{scenario_id:str}", responses=error_responses(404))
    async def get_scenario(self, scenario_id: ScenarioId) -> ScenarioDetail:
        """One scenario with its parameter schema, defaults and source code."""
        scenario = find(scenario_id)
        return ScenarioDetail(
            **_summary_fields(scenario),
            params_schema=params_schema(scenario),
            defaults=msgspec.to_builtins(scenario.params()),
            source=scenario_source(scenario),
        )
