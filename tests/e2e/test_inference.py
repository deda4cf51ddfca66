"""The Inference page in a real browser: classify an upload, segment a sample, show errors.

Models are picked by task (the first classification / segmentation model the server lists),
so the tests pass against the shipped models or any stand-ins in ``PARALAB_MODELS_DIR``.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

SAMPLES = Path(__file__).resolve().parents[2] / "frontend" / "samples"
READY_TIMEOUT_S = 120
PREDICT_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def models(server_url: str) -> list[dict[str, Any]]:
    """The server's models, once its worker pool has loaded them."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        report = httpx.get(f"{server_url}/health/ready", timeout=5).json()
        if report["checks"]["models"]["ready"]:
            break
        assert time.monotonic() < deadline, f"models not ready: {report['checks']['models']}"
        time.sleep(0.5)
    listed: list[dict[str, Any]] = httpx.get(f"{server_url}/api/models").json()
    return listed


def first_model(models: list[dict[str, Any]], task: str) -> dict[str, Any]:
    for model in models:
        if model["task"] == task:
            return model
    pytest.fail(f"the server lists no {task} model: ship one or set PARALAB_MODELS_DIR")


def sample_for(task: str) -> Path:
    samples: list[dict[str, Any]] = json.loads((SAMPLES / "samples.json").read_text())["samples"]
    name: str = next(sample["file"] for sample in samples if sample["task"] == task)
    return SAMPLES / name


def choose_model(page: Page, server_url: str, name: str) -> None:
    page.goto(f"{server_url}/#/inference")
    page.click(f"label[data-model='{name}']")
    expect(page.locator(f"input[name=inference-model][value='{name}']")).to_be_checked()
    expect(page).to_have_url(re.compile(f"#/inference/{re.escape(name)}$"))
    expect(page.locator("#inference-details")).to_have_attribute("data-model", name)


def api_predict(server_url: str, model: str, path: Path) -> httpx.Response:
    return httpx.post(
        f"{server_url}/api/models/{model}/predict",
        files={"file": (path.name, path.read_bytes())},
        timeout=PREDICT_TIMEOUT_MS / 1000,
    )


def percentage(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%", text.strip())
    assert match, f"not a percentage: {text!r}"
    return float(match[1])


def test_uploaded_image_is_classified_like_the_api_does(
    page: Page, server_url: str, models: list[dict[str, Any]]
) -> None:
    model = first_model(models, "classification")["name"]
    image = sample_for("classification")
    choose_model(page, server_url, model)
    page.set_input_files("#inference-file", str(image))

    label = page.locator("#inference-label")
    expect(label).to_be_visible(timeout=PREDICT_TIMEOUT_MS)
    expected = api_predict(server_url, model, image)
    assert expected.status_code == 200, expected.text
    answer = expected.json()
    expect(label).to_have_text(answer["label"])

    bars = page.locator("#inference-result .inference-bar")
    expect(bars).to_have_count(len(answer["scores"]))
    assert bars.evaluate_all("rows => rows.map(row => row.dataset.label)") == [
        score["label"] for score in answer["scores"]
    ]
    shown = page.locator("#inference-result .inference-pct").all_inner_texts()
    percentages = [percentage(text) for text in shown]
    assert all(0 <= value <= 100 for value in percentages)
    assert sum(percentages) <= 100
    assert percentages == sorted(percentages, reverse=True)
    expect(page.locator("#inference-latency-ms")).to_have_text(re.compile(r"^\d+ ms$"))


def test_pet_sample_is_segmented_with_overlay_legend_and_opacity(
    page: Page, server_url: str, models: list[dict[str, Any]]
) -> None:
    model = first_model(models, "segmentation")
    sample = sample_for("segmentation")
    choose_model(page, server_url, model["name"])
    page.click(f".inference-sample[data-sample='{sample.name}']")

    overlay = page.locator("#inference-overlay")
    expect(overlay).to_be_visible(timeout=PREDICT_TIMEOUT_MS)
    expect(overlay).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("#inference-preview .inference-file-name")).to_have_text(sample.name)

    legend = page.locator("#inference-legend li")
    expect(legend).to_have_count(3)
    assert legend.evaluate_all("items => items.map(item => item.dataset.class)") == model["classes"]
    shown = page.locator("#inference-legend .inference-fraction").all_inner_texts()
    fractions = [percentage(text) for text in shown]
    assert sum(fractions) == pytest.approx(100, abs=0.5)

    slider = page.locator("#inference-opacity")
    slider.fill("25")
    expect(overlay).to_have_attribute("style", re.compile(r"opacity:\s*0\.25"))
    expect(overlay).to_have_css("opacity", "0.25")
    slider.fill("100")
    expect(overlay).to_have_css("opacity", "1")
    expect(page.locator("#inference-mask-download")).to_have_attribute(
        "download", f"{sample.stem}-mask.png"
    )


def test_non_image_upload_shows_the_api_detail(
    page: Page, server_url: str, models: list[dict[str, Any]], tmp_path: Path
) -> None:
    model = first_model(models, "classification")["name"]
    notes = tmp_path / "notes.txt"
    notes.write_text("These are notes, not a picture.\n")
    rejected = api_predict(server_url, model, notes)
    assert rejected.status_code == 415
    choose_model(page, server_url, model)
    page.set_input_files("#inference-file", str(notes))

    error = page.locator("#inference-error")
    expect(error).to_contain_text(rejected.json()["detail"], timeout=PREDICT_TIMEOUT_MS)
    expect(error).to_contain_text(rejected.json()["error"])
    expect(page.locator("#inference-result .inference-bar")).to_have_count(0)


def test_a_503_while_models_load_is_retried_not_shown_as_a_failure(
    page: Page, server_url: str, models: list[dict[str, Any]]
) -> None:
    model = first_model(models, "classification")["name"]
    calls: list[str] = []

    def loading_first(route: Route) -> None:
        calls.append(route.request.url)
        if len(calls) > 1:
            route.continue_()
            return
        body = {"status_code": 503, "error": "unavailable", "detail": "Models are not loaded yet."}
        route.fulfill(
            status=503, json=body, headers={"Retry-After": "1"}, content_type="application/json"
        )

    page.route(re.compile(r".*/predict\?.*"), loading_first)
    choose_model(page, server_url, model)
    page.set_input_files("#inference-file", str(sample_for("classification")))
    expect(page.locator("#inference-loading")).to_be_visible(timeout=PREDICT_TIMEOUT_MS)
    expect(page.locator("#inference-label")).to_be_visible(timeout=PREDICT_TIMEOUT_MS)
    expect(page.locator("#inference-loading")).to_be_hidden()
    expect(page.locator("#inference-error")).to_be_hidden()
    assert len(calls) == 2


DROP_OR_PASTE = """async ([kind, name, base64]) => {
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
  const init = { bubbles: true, cancelable: true };
  if (kind === "paste") {
    document.dispatchEvent(new ClipboardEvent("paste", { ...init, clipboardData: transfer }));
  } else {
    const zone = document.querySelector("#inference-drop");
    zone.dispatchEvent(new DragEvent("dragover", { ...init, dataTransfer: transfer }));
    zone.dispatchEvent(new DragEvent("drop", { ...init, dataTransfer: transfer }));
  }
}"""


@pytest.mark.parametrize("kind", ["drop", "paste"])
def test_dropped_or_pasted_image_is_predicted(
    page: Page, server_url: str, models: list[dict[str, Any]], kind: str
) -> None:
    model = first_model(models, "classification")["name"]
    image = sample_for("classification")
    choose_model(page, server_url, model)
    encoded = base64.b64encode(image.read_bytes()).decode()
    page.evaluate(DROP_OR_PASTE, [kind, f"{kind}-{image.name}", encoded])
    expect(page.locator("#inference-preview .inference-file-name")).to_have_text(
        f"{kind}-{image.name}"
    )
    expected = api_predict(server_url, model, image).json()["label"]
    expect(page.locator("#inference-label")).to_have_text(expected, timeout=PREDICT_TIMEOUT_MS)
