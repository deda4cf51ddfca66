"""Every golden case of tests/golden/span-rules.json through the SPA's own TimelineModel,
in the browser, compared with the same spans and instants as spans.py."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.golden.span_rules import Case, api_events, load_cases, normal_instants, normal_spans

pytestmark = pytest.mark.browser

CASES = load_cases()

# The model's lanes as golden records: only field names are mapped here, no rule.
RUN_CASES = """
async (cases) => {
  const { TimelineModel } = await import("/components/timeline-model.js");
  return cases.map((events) => {
    const model = new TimelineModel();
    for (const event of events) model.add(event);
    const spans = [];
    const instants = [];
    for (const lane of model.laneList) {
      for (const s of lane.spans) {
        spans.push({ actor: lane.actor, pid: s.pid, tid: s.tid, kind: s.kind, start_ns: s.start,
          end_ns: s.end, primitive: s.primitive, obj: s.obj, value: s.value, gave_up: s.gaveUp,
          pool: s.pool, task: s.task, exit_code: s.exitCode, start_method: s.startMethod,
          killed_by: s.killedBy });
      }
      for (const m of lane.marks) {
        instants.push({ actor: lane.actor, pid: m.event.pid, tid: m.event.tid, kind: m.kind,
          t_ns: m.t, text: m.text });
      }
    }
    return { spans, instants };
  });
}
"""

# The real Timeline draws each case (microseconds made milliseconds, to be wide enough) and
# describes the middle of every span, without an error.
DRAW_CASES = """
async (cases) => {
  const { Timeline } = await import("/components/timeline.js");
  const described = [];
  for (const events of cases) {
    const timeline = new Timeline();
    document.body.append(timeline.element);
    timeline.addEvents(events.map((event) => ({ ...event, t_ns: event.t_ns * 1000 })));
    timeline.finish();
    timeline.draw();
    for (const lane of timeline.model.laneList) {
      for (const span of lane.spans) {
        const middle = (span.start + (span.end ?? timeline.model.lastT)) / 2;
        described.push(...timeline.describePoint(lane, timeline.x(middle)));
      }
    }
    timeline.destroy();
    timeline.element.remove();
  }
  return described;
}
"""


@pytest.fixture(scope="module")
def model_results(browser: Browser, server_url: str) -> dict[str, Any]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server_url)
    results = page.evaluate(RUN_CASES, [api_events(case) for case in CASES])
    described = page.evaluate(DRAW_CASES, [api_events(case) for case in CASES])
    context.close()
    return {
        "by_name": dict(zip((c["name"] for c in CASES), results, strict=True)),
        "described": described,
        "errors": errors,
    }


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_timeline_model_follows_the_golden_rules(
    case: Case, model_results: dict[str, Any]
) -> None:
    result = model_results["by_name"][case["name"]]
    assert normal_spans(result["spans"]) == normal_spans(case["spans"])
    assert normal_instants(result["instants"]) == normal_instants(case["instants"])


def test_the_timeline_draws_and_describes_every_case(model_results: dict[str, Any]) -> None:
    assert model_results["errors"] == []
    described = model_results["described"]
    assert any(line.startswith("running · ") for line in described)
    assert any(line.startswith("holding lock door · ") for line in described)
    assert any("unfinished)" in line for line in described)
    assert any(line.startswith("spawn start-up: 84.0 ms · ") for line in described)
