// #/inference[/<model>]: choose a model and a variant, give it an image (drop, pick,
// paste or a sample) and see its answer: top-k bars, or a mask over the photo.
import { api, ApiError, h } from "../api.js";
import { ImageInput } from "../components/inference-input.js";
import { modelDetails, modelPicker } from "../components/inference-models.js";
import { classificationView, segmentationView } from "../components/inference-result.js";

const READY_POLL_MS = 2000;
const WAIT_FOR_MODELS_MS = 5 * 60 * 1000;

export async function render(root, [modelName]) {
  let models;
  try {
    models = await api("/api/models");
  } catch (error) {
    root.append(loadFailure(root, modelName, error));
    return null;
  }
  const view = new InferenceView(root, models, modelName);
  await view.start();
  return () => view.destroy();
}

class InferenceView {
  constructor(root, models, requested) {
    this.root = root;
    this.models = models;
    this.metadata = new Map();
    this.ready = models.every((model) => model.ready);
    this.model = models.find((model) => model.name === requested) || models[0] || null;
    this.variant = "keras";
    this.file = null;
    this.photoUrl = null;
    this.requestId = 0;
    this.pending = false;
    this.controller = null;
    this.pollTimer = null;
    this.destroyed = false;
    this.input = new ImageInput({
      onImage: (file, url) => this.imageChosen(file, url),
      onError: (message) => this.showError(message),
    });
    this.build(requested);
  }

  async start() {
    await this.input.loadSamples();
    if (this.model) await this.selectModel(this.model.name);
    if (!this.ready) this.pollReadiness();
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.pollTimer);
    this.controller?.abort();
    this.input.destroy();
  }

  // --- layout ---------------------------------------------------------------------

  build(requested) {
    this.banner = h("p", { class: "inference-banner", id: "inference-loading", role: "status", hidden: true });
    this.details = h("div", { class: "inference-details-slot" });
    this.status = h("p", { class: "inference-status muted", id: "inference-status", role: "status" },
      "Choose an image to see what the model makes of it.");
    this.latency = h("p", { class: "inference-latency muted", id: "inference-latency", hidden: true });
    this.error = h("div", { class: "inference-error", id: "inference-error", role: "alert", hidden: true });
    this.output = h("div", { class: "inference-output", id: "inference-result", "aria-live": "polite" });
    const unknown = requested && this.model?.name !== requested;

    this.root.append(
      h("section", { class: "card prose" }, h("h1", {}, "Inference"),
        h("p", {}, "Run the shipped models on your own images. Pick a model and a variant, then drop, ",
          "paste or choose an image, or click one of the samples."),
        unknown ? h("p", { class: "error" }, `There is no model “${requested}”; showing ${this.model?.name ?? "none"}.`) : null,
        this.banner),
      ...(this.models.length
        ? [
            h("section", { class: "card" },
              modelPicker(this.models, this.model?.name, (name) => this.selectModel(name)),
              this.details),
            h("div", { class: "inference-grid" },
              h("section", { class: "card", "aria-labelledby": "inference-image-title" },
                h("h2", { id: "inference-image-title" }, "Image"), this.input.element),
              h("section", { class: "card", "aria-labelledby": "inference-result-title" },
                h("h2", { id: "inference-result-title" }, "Result"),
                this.status, this.error, this.output, this.latency)),
          ]
        : [h("section", { class: "card" }, h("h2", {}, "No models"),
            h("p", {}, "The server has no models installed. Train them or point ",
              h("code", {}, "PARALAB_MODELS_DIR"), " at a folder of shipped models."))]));
    this.updateBanner();
  }

  // --- model and variant ----------------------------------------------------------

  async selectModel(name) {
    const model = this.models.find((item) => item.name === name);
    if (!model) return;
    this.model = model;
    if (location.hash !== `#/inference/${encodeURIComponent(name)}`) {
      history.replaceState(null, "", `#/inference/${encodeURIComponent(name)}`);
    }
    for (const radio of this.root.querySelectorAll("input[name=inference-model]")) {
      radio.checked = radio.value === name;
    }
    if (!model.variants.includes(this.variant)) this.variant = model.variants[0];
    this.input.showSamplesFor(model);
    this.details.replaceChildren(h("p", { class: "muted" }, "Loading the model's details…"));
    try {
      if (!this.metadata.has(name)) this.metadata.set(name, await api(`/api/models/${encodeURIComponent(name)}`));
      if (this.model !== model || this.destroyed) return;
      this.details.replaceChildren(modelDetails(this.metadata.get(name), this.variant, (variant) => this.selectVariant(variant)));
    } catch (error) {
      if (this.model !== model) return;
      this.details.replaceChildren(h("p", { class: "error" }, `Could not load the model's details: ${error.message}`));
    }
    if (this.file) this.predict();
  }

  selectVariant(variant) {
    this.variant = variant;
    if (this.file) this.predict();
  }

  // --- readiness ------------------------------------------------------------------

  updateBanner(detail) {
    this.banner.hidden = this.ready;
    this.banner.replaceChildren(
      h("span", { class: "inference-spinner", "aria-hidden": "true" }),
      h("strong", {}, "Models loading… "),
      detail ? `(${detail}) ` : "",
      "Predictions start as soon as they are ready.");
  }

  pollReadiness(delayMs = 0) {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => this.checkReadiness(), delayMs);
  }

  async checkReadiness() {
    let detail;
    try {
      const report = await api("/health/ready");
      this.ready = report.checks?.models?.ready ?? report.ready;
      detail = report.checks?.models?.detail;
    } catch (error) {
      const models = error instanceof ApiError ? error.body?.checks?.models : null;
      this.ready = Boolean(models?.ready);
      detail = models ? models.detail : `server unreachable: ${error.message}`;
    }
    if (this.destroyed) return;
    this.updateBanner(detail);
    if (!this.ready) {
      this.pollTimer = setTimeout(() => this.checkReadiness(), READY_POLL_MS);
      return;
    }
    for (const model of this.models) model.ready = true;
    if (this.pending) this.predict();
  }

  // --- predicting -----------------------------------------------------------------

  imageChosen(file, url) {
    this.file = file;
    this.photoUrl = url;
    this.output.replaceChildren();
    this.latency.hidden = true;
    this.predict();
  }

  async predict() {
    if (!this.file || !this.model) return;
    const id = ++this.requestId;
    this.controller?.abort();
    this.hideError();
    if (!this.ready) {
      this.waitForModels();
      return;
    }
    this.pending = false;
    const { file, model, variant, photoUrl } = this;
    const controller = new AbortController();
    this.controller = controller;
    this.setBusy(`Asking ${model.name} (${variant})…`);
    const form = new FormData();
    form.append("file", file, file.name);
    const url = `/api/models/${encodeURIComponent(model.name)}/predict?variant=${encodeURIComponent(variant)}`;
    const started = performance.now();
    let response;
    let body;
    try {
      response = await fetch(url, { method: "POST", body: form, headers: { Accept: "application/json" }, signal: controller.signal });
      body = parseBody(await response.text());
    } catch (error) {
      if (controller.signal.aborted || id !== this.requestId) return;
      this.setBusy(null);
      this.showError(`Could not reach the server: ${error.message}`);
      return;
    }
    const elapsed = performance.now() - started;
    if (id !== this.requestId || this.destroyed) return;
    this.setBusy(null);
    if (response.status === 503) {
      this.ready = false;
      this.waitForModels(body?.detail, retryAfterMs(response));
      return;
    }
    if (!response.ok) {
      this.output.replaceChildren();
      this.showError(new ApiError(response.status, body));
      return;
    }
    this.status.textContent = `${body.model} · ${body.variant} · ${file.name}`;
    this.output.replaceChildren("mask_png" in body
      ? segmentationView(body, photoUrl, file.name)
      : classificationView(body));
    this.latency.replaceChildren("Round trip ", h("strong", { id: "inference-latency-ms" }, `${Math.round(elapsed)} ms`),
      " measured in this browser (upload, queueing, inference and download).");
    this.latency.hidden = false;
  }

  waitForModels(detail, delayMs = 0) {
    if (!this.pending) this.pendingSince = performance.now();
    this.pending = true;
    if (performance.now() - this.pendingSince > WAIT_FOR_MODELS_MS) {
      this.pending = false;
      this.showError("The models did not become ready in time; reload the page to try again.");
      return;
    }
    this.output.replaceChildren();
    this.setBusy("Waiting for the models to load; the image will be sent as soon as they are ready.");
    this.updateBanner(detail);
    this.pollReadiness(delayMs);
  }

  setBusy(text) {
    this.output.setAttribute("aria-busy", text ? "true" : "false");
    this.status.classList.toggle("inference-busy", Boolean(text));
    if (text) {
      this.status.replaceChildren(h("span", { class: "inference-spinner", "aria-hidden": "true" }), text);
      this.latency.hidden = true;
    }
  }

  showError(error) {
    this.status.textContent = "";
    if (error instanceof ApiError) {
      const code = [error.status, error.body?.error].filter(Boolean).join(" ");
      this.error.replaceChildren(
        h("strong", {}, error.status < 500 ? "The server could not use this image: " : "The prediction failed: "),
        h("span", { class: "inference-error-detail" }, error.body?.detail || error.message),
        code ? h("span", { class: "muted small" }, ` (${code})`) : null);
    } else {
      this.error.replaceChildren(h("span", { class: "inference-error-detail" }, String(error)));
    }
    this.error.hidden = false;
  }

  hideError() {
    this.error.hidden = true;
    this.error.replaceChildren();
  }
}

function parseBody(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
}

function retryAfterMs(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 30) * 1000 : READY_POLL_MS;
}

function loadFailure(root, modelName, error) {
  return h("section", { class: "card" },
    h("h1", {}, "Inference"),
    h("p", { class: "error" }, `Could not load the models: ${error.message}`),
    h("p", {}, h("button", {
      onclick: async () => {
        root.replaceChildren(h("p", { class: "muted" }, "Loading…"));
        const cleanup = await render(root, [modelName]);
        // The router only keeps the first render's cleanup; a retry tidies up on leaving.
        if (cleanup) window.addEventListener("hashchange", cleanup, { once: true });
      },
    }, "Try again")));
}
