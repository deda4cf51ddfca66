"""The labs view of the run page: table, speed-up and efficiency charts (ideal line, Amdahl
fit, the lab's own word on the cores), hand-over time by method and size, pictures and
other measurements. The real run page is fed a hand-made event stream through routed API
and WebSocket; one test runs L1.1 on the real server."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import msgspec
import pytest
from PIL import Image
from playwright.sync_api import Page, Route, WebSocketRoute, expect

from paralab.lab.events import Artifact, Event, Metric, Output

pytestmark = pytest.mark.browser

RUN_ID = "labdemo"
MAIN: dict[str, Any] = {"pid": 500, "tid": 500, "actor": "main"}
CORES_LINE = (
    "this machine has 2 cores: past 2 workers they take turns on the same cores "
    "(oversubscription), so the speed-up cannot keep growing"
)
# (mode, workers, wall_s): the baseline first, then a sweep of processes x1..x3.
POINTS = [("sequential", 1, 1.2), ("processes", 1, 1.3), ("processes", 2, 0.7)]
LAST_POINT = ("processes", 3, 0.65)
HANDOVER = {1: (0.002, 0.0003), 16: (0.03, 0.00031), 256: (0.5, 0.00035)}  # pickle, shm
X = "\N{MULTIPLICATION SIGN}"
PICTURES = [("l2-cat-grey.png", "grey"), ("l2-cat-red.png", "red")]


def point_metrics(mode: str, workers: int, wall_s: float, t_ms: int) -> list[Event]:
    speedup = POINTS[0][2] / wall_s
    labels = {"mode": mode, "workers": str(workers)}
    at: dict[str, Any] = {"t_ns": t_ms * 1_000_000, **MAIN}
    return [
        Metric(name="wall_s", value=wall_s, unit="s", labels=labels, **at),
        Metric(name="speedup", value=speedup, unit="x", labels=labels, **at),
        Metric(name="efficiency", value=speedup / workers, labels=labels, **at),
    ]


def first_part() -> list[Event]:
    events: list[Event] = [Output(t_ns=0, line="sequential baseline ...", **MAIN)]
    for t_ms, (mode, workers, wall_s) in enumerate(POINTS[:2], start=1):
        events += point_metrics(mode, workers, wall_s, t_ms * 100)
    return events


def second_part() -> list[Event]:
    at: dict[str, Any] = {"t_ns": 900_000_000, **MAIN}
    events = point_metrics(*POINTS[2], 700) + point_metrics(*LAST_POINT, 800)
    events += [
        Metric(name="serial_fraction", value=0.4, labels={"mode": "processes"}, **at),
        Metric(name="fit_residual", value=0.05, unit="x", labels={"mode": "processes"}, **at),
        Output(line="Amdahl fit: serial fraction 0.400 (RMS residual 0.050x)", **at),
        Output(line=CORES_LINE, **at),
    ]
    for size, (pickle_s, shm_s) in HANDOVER.items():
        size_label = {"size_mib": str(size)}
        events += [
            Metric(
                name="handover_s",
                value=pickle_s,
                unit="s",
                labels={"method": "pickle", **size_label},
                **at,
            ),
            Metric(
                name="handover_s",
                value=shm_s,
                unit="s",
                labels={"method": "shm", **size_label},
                **at,
            ),
            Metric(
                name="shm_over_pickle", value=shm_s / pickle_s, unit="x", labels=size_label, **at
            ),
        ]
    events += [
        Metric(name="throughput", value=412.5, unit="img/s", labels={"mode": "processes"}, **at),
        Metric(name="loop_ns_per_pixel", value=1234.5, unit="ns", labels={"width": "640"}, **at),
    ]
    events += [
        Artifact(name=name, media_type="image/png", size=2048, description=description, **at)
        for name, description in PICTURES
    ]
    return events


def numbered(events: list[Event], first: int = 1) -> list[dict[str, Any]]:
    return [
        json.loads(msgspec.json.encode(msgspec.structs.replace(event, seq=seq)))
        for seq, event in enumerate(events, first)
    ]


def png() -> bytes:
    image = Image.new("RGB", (96, 64))
    image.putdata([(x * 2, y * 4, 128) for y in range(64) for x in range(96)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class FakeRun:
    """Routes the run, its scenario, its artifacts and its WebSocket; the test sends the
    rest of the stream later, while the page is open (live updates)."""

    def __init__(self, page: Page, server_url: str) -> None:
        self.page = page
        self.sockets: list[WebSocketRoute] = []
        self.artifacts: list[str] = []
        self.first = numbered(first_part())
        self.second = numbered(second_part(), len(self.first) + 1)
        picture = png()
        run: dict[str, Any] = {
            "id": RUN_ID,
            "scenario_id": "L1.1",
            "params": {"sweep": True, "workers": 3},
            "status": "running",
            "created_at": "2026-12-01T10:00:00Z",
            "started_at": "2026-12-01T10:00:00Z",
            "finished_at": None,
            "duration_s": None,
            "error": "",
            "exit_code": None,
            "last_seq": 0,
            "output": [],
            "output_total": 0,
            "metrics": [],
        }

        def artifact(route: Route) -> None:
            self.artifacts.append(route.request.url.rsplit("/", 1)[-1])
            route.fulfill(body=picture, content_type="image/png")

        def connect(ws: WebSocketRoute) -> None:
            self.sockets.append(ws)
            ws.send(json.dumps({"type": "events", "events": self.first}))

        page.route(re.compile(rf".*/api/runs/{RUN_ID}$"), lambda route: route.fulfill(json=run))
        page.route(re.compile(rf".*/api/runs/{RUN_ID}/artifacts/.+"), artifact)
        page.route(
            re.compile(r".*/api/scenarios/L1\.1$"),
            lambda route: route.fulfill(json={"id": "L1.1", "title": "Primes"}),
        )
        page.route_web_socket(re.compile(rf".*/ws/runs/{RUN_ID}.*"), connect)
        page.goto(f"{server_url}/#/run/{RUN_ID}")

    def finish(self) -> None:
        for _ in range(100):  # the page connects once the run is loaded
            if self.sockets:
                break
            self.page.wait_for_timeout(50)
        ws = self.sockets[-1]
        last = self.second[-1]["seq"]
        ws.send(json.dumps({"type": "events", "events": self.second}))
        ws.send(json.dumps({"type": "end", "status": "succeeded", "last_seq": last}))
        ws.close(code=1000)


def cells(page: Page, selector: str) -> list[list[str]]:
    rows: list[list[str]] = page.locator(selector).evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))"
    )
    return rows


CLIPPED_TEXT = """() => {
  const bad = [];
  for (const svg of document.querySelectorAll('#lab-results svg.lr-svg')) {
    const width = Number(svg.getAttribute('width'));
    const height = Number(svg.getAttribute('height'));
    const shown = svg.getBoundingClientRect();
    const holder = svg.parentElement.getBoundingClientRect();
    if (shown.width > holder.width + 1) bad.push(`svg wider than its box: ${svg.id}`);
    if (Math.abs(shown.width - width) > 1) bad.push(`svg scaled: ${width} -> ${shown.width}`);
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBBox();
      const m = text.getCTM();
      const corners = [[box.x, box.y], [box.x + box.width, box.y + box.height]].map(
        ([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
      for (const [x, y] of corners) {
        if (x < -0.5 || y < -0.5 || x > width + 0.5 || y > height + 0.5) {
          bad.push(`clipped: ${text.textContent}`);
          break;
        }
      }
    }
  }
  return bad;
}"""


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (390, 844)])
def test_a_sweep_a_handover_and_pictures_are_drawn_live(
    page: Page, server_url: str, width: int, height: int
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": width, "height": height})
    run = FakeRun(page, server_url)

    # The first frame: the baseline and processes x1 only.
    panel = page.locator("#lab-results")
    expect(panel).to_be_visible()
    rows = page.locator("#lr-points tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#lr-speedup-chart [data-point=speedup]")).to_have_count(2)
    expect(page.locator("#lr-speedup-chart [data-line=amdahl]")).to_have_count(0)
    expect(page.locator("#lr-speedup-chart [data-mark=cores]")).to_have_count(0)

    run.finish()
    expect(rows).to_have_count(4)
    expect(page.locator("#run-status")).to_have_text("succeeded")
    assert cells(page, "#lr-points tbody tr") == [
        ["sequential", "1", "1.2 s", f"1{X}", "100%"],
        ["processes", "1", "1.3 s", f"0.923{X}", "92%"],
        ["processes", "2", "700 ms", f"1.71{X}", "86%"],
        ["processes", "3", "650 ms", f"1.85{X}", "62%"],
    ]
    assert rows.evaluate_all("rs => rs.map(r => `${r.dataset.mode} x${r.dataset.workers}`)") == [
        "sequential x1",
        "processes x1",
        "processes x2",
        "processes x3",
    ]
    headers = page.locator("#lr-points thead th").all_text_contents()
    assert [head.replace("\N{SOFT HYPHEN}", "") for head in headers] == [
        "Mode",
        "Workers",
        "Wall time",
        "Speed-up",
        "Efficiency",
    ]
    # The table fits its card, on a phone too.
    assert page.locator("#lr-points").evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")

    # Speed-up: four points (the baseline a square), the ideal line, the measured line,
    # the Amdahl fit with f and its residual in the legend, and the lab's cores.
    speedup = page.locator("#lr-speedup-chart")
    expect(speedup.locator("[data-point=speedup]")).to_have_count(4)
    expect(speedup.locator("rect[data-point=speedup][data-mode=sequential]")).to_have_count(1)
    expect(speedup.locator("circle[data-point=speedup][data-mode=processes]")).to_have_count(3)
    expect(speedup.locator("[data-line=ideal]")).to_have_count(1)
    expect(speedup.locator("[data-line=measured][data-mode=processes]")).to_have_count(1)
    expect(speedup.locator("[data-line=amdahl][data-mode=processes]")).to_have_count(1)
    expect(speedup.locator("[data-mark=cores]")).to_have_text("2 cores")
    expect(speedup.locator("[data-mark=oversubscription]")).to_have_count(1)
    values = speedup.locator("[data-point=speedup]").evaluate_all(
        "ps => ps.map(p => Number(p.dataset.value).toFixed(3))"
    )
    assert sorted(values) == ["0.923", "1.000", "1.714", "1.846"]
    expect(speedup.locator("svg title").first).to_have_text(
        "Speed-up against the number of workers"
    )
    expect(speedup.locator("svg")).to_have_attribute("role", "img")
    legend = page.locator("#lab-results .lr-legend").first
    expect(legend.locator("[data-legend=amdahl]")).to_contain_text("f = 0.400")
    expect(legend.locator("[data-legend=amdahl]")).to_contain_text(f"RMS residual 0.05{X}")
    expect(legend).to_contain_text("past the 2 cores: oversubscription")
    expect(page.locator("#lab-results .lr-cores")).to_contain_text(CORES_LINE)
    efficiency = page.locator("#lr-efficiency-chart")
    expect(efficiency.locator("[data-point=efficiency]")).to_have_count(4)
    expect(efficiency.locator("[data-line=ideal]")).to_have_count(1)
    expect(efficiency.locator("[data-line=amdahl]")).to_have_count(1)

    # L3: one line of three points per method, on log scales (0.3 ms to 0.5 s).
    handover = page.locator("#lab-results [data-chart=handover_s]")
    lines = handover.locator("[data-line=method]")
    expect(lines).to_have_count(2)
    assert lines.evaluate_all("ls => ls.map(l => l.dataset.method)") == ["pickle", "shm"]
    for method in ("pickle", "shm"):
        expect(handover.locator(f"[data-point=handover_s][data-method={method}]")).to_have_count(3)
    expect(handover.locator(".lr-axis-label")).to_have_text(
        ["array size (MiB, log scale)", "hand-over time (s, log scale)"]
    )
    assert cells(page, "#lr-sizes tbody tr") == [
        ["1 MiB", "2 ms", "300 µs", f"0.15{X}"],
        ["16 MiB", "30 ms", "310 µs", f"0.0103{X}"],
        ["256 MiB", "500 ms", "350 µs", f"0.0007{X}"],
    ]

    # Other measurements, with their labels.
    throughput = page.locator("#lab-results [data-metric=throughput]")
    expect(throughput.locator("dd")).to_have_text("413 img/s")
    expect(throughput.locator("dt")).to_contain_text("mode=processes")
    expect(page.locator("#lab-results [data-metric=loop_ns_per_pixel] dd")).to_have_text("1,235 ns")

    # The pictures, lazy-loaded from the artifacts URL, with their descriptions.
    pictures = page.locator("#lab-results .lr-picture")
    expect(pictures).to_have_count(2)
    images = pictures.locator("img")
    expect(images.first).to_have_attribute("loading", "lazy")
    expect(images.first).to_have_attribute("src", f"/api/runs/{RUN_ID}/artifacts/l2-cat-grey.png")
    images.last.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#lab-results .lr-picture img')]"
        ".every(i => i.complete && i.naturalWidth === 96)"
    )
    assert sorted(run.artifacts) == ["l2-cat-grey.png", "l2-cat-red.png"]
    expect(pictures.locator("figcaption strong")).to_have_text(["grey", "red"])
    boxes = [box for box in (image.bounding_box() for image in images.all()) if box]
    assert len(boxes) == 2
    if width == 1400:
        assert boxes[0]["y"] == pytest.approx(boxes[1]["y"])  # side by side
    for box in boxes:
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width

    # Nothing clipped, nothing wider than the page.
    assert page.evaluate(CLIPPED_TEXT) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.evaluate("scrollTo(0, 0)")  # so the sticky top bar stays at the top of the shot
    shot = panel.bounding_box()
    assert shot
    page.screenshot(path=f"/tmp/lab-results-{width}x{height}.png", full_page=True, clip=shot)
    page.screenshot(path=f"/tmp/lab-results-page-{width}x{height}.png", full_page=True)
    assert errors == []


def test_charts_follow_the_width_of_their_box(page: Page, server_url: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    FakeRun(page, server_url).finish()
    expect(page.locator("#lr-points tbody tr")).to_have_count(4)
    chart = page.locator("#lr-speedup-chart svg")
    wide = float(chart.get_attribute("width") or 0)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(
        f"() => Number(document.querySelector('#lr-speedup-chart svg').getAttribute('width'))"
        f" < {wide}"
    )
    box = chart.bounding_box()
    holder = page.locator("#lr-speedup-chart").bounding_box()
    assert box
    assert holder
    assert box["width"] <= holder["width"] + 1
    assert float(chart.get_attribute("font-size") or 0) >= 13  # drawn smaller, not shrunk
    assert page.evaluate(CLIPPED_TEXT) == []


def test_a_run_without_labelled_metrics_or_artifacts_has_no_results(
    page: Page, server_url: str
) -> None:
    response = httpx.post(
        f"{server_url}/api/runs", json={"scenario_id": "T1.1", "params": {}}, timeout=10
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    page.goto(f"{server_url}/#/run/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#lab-results")).to_be_hidden()


def test_a_real_l1_sweep_shows_its_three_points(page: Page, server_url: str) -> None:
    params = {"sweep": True, "workers": 2, "repeat": 1}
    response = httpx.post(
        f"{server_url}/api/runs", json={"scenario_id": "L1.1", "params": params}, timeout=10
    )
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{server_url}/#/run/{run_id}")
    expect(page.locator("#run-status")).to_have_text("succeeded", timeout=180_000)
    rows = page.locator("#lr-points tbody tr")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rs => rs.map(r => `${r.dataset.mode} x${r.dataset.workers}`)") == [
        "sequential x1",
        "processes x1",
        "processes x2",
    ]
    for row in cells(page, "#lr-points tbody tr"):
        assert re.fullmatch(r"[\d.]+ m?s", row[2]), row
        assert re.fullmatch(rf"[\d.]+{X}", row[3]), row
        assert re.fullmatch(r"\d+%", row[4]), row
    speedup = page.locator("#lr-speedup-chart")
    expect(speedup.locator("[data-point=speedup]")).to_have_count(3)
    expect(speedup.locator("[data-line=ideal]")).to_have_count(1)
    expect(speedup.locator("[data-line=amdahl]")).to_have_count(1)
    expect(page.locator("#lab-results [data-legend=amdahl]")).to_contain_text("f = ")
    assert page.evaluate(CLIPPED_TEXT) == []
    page.locator("#lab-results").screenshot(path="/tmp/lab-results-real-l1.png")
