// The Inference page's model chooser (radio cards) and the chosen model's details:
// task, input, classes, held-out metrics and a variant table with size and latency.
import { h } from "../api.js";

const TASK_TEXT = { classification: "image classification", segmentation: "semantic segmentation" };
const PERCENT_METRIC = /accuracy|iou|precision|recall|f1/i;

export function modelPicker(models, selected, onSelect) {
  return h("fieldset", { class: "inference-models", id: "inference-models" },
    h("legend", {}, "Model"),
    h("div", { class: "inference-model-grid" }, models.map((model) => {
      const id = `inference-model-${model.name}`;
      return h("label", { class: "inference-model-card", for: id, "data-model": model.name },
        h("input", {
          type: "radio", name: "inference-model", id, value: model.name,
          checked: model.name === selected,
          onchange: (event) => { if (event.target.checked) onSelect(model.name); },
        }),
        h("span", { class: "inference-model-name" }, model.name),
        h("span", { class: "inference-model-task" }, TASK_TEXT[model.task] || model.task),
        h("span", { class: "muted small" },
          `v${model.version} · ${model.classes.length} classes: ${abbreviate(model.classes, 5)}`));
    })));
}

export function modelDetails(meta, variant, onVariant) {
  const metrics = Object.entries(meta.metrics || {});
  const input = meta.inputs?.[0]?.description;
  const output = meta.outputs?.[0];
  return h("div", { class: "inference-details", id: "inference-details", "data-model": meta.name },
    h("div", {}, h("dl", { class: "inference-facts" },
      fact("Task", TASK_TEXT[meta.task] || meta.task),
      fact("Version", (meta.versions || []).join(", ")),
      input ? fact("Input", input) : null,
      output ? fact("Output", `${output.name} ${JSON.stringify(output.shape)}: ${output.description}`) : null,
      fact("Classes", h("span", { class: "inference-classes" },
        meta.classes.map((name) => h("span", { class: "inference-chip" }, name)))),
      trainingFact(meta.training)),
    h("h3", {}, "Held-out metrics"),
    metrics.length
      ? h("table", { class: "table inference-metrics" },
          h("tbody", {}, metrics.map(([name, value]) =>
            h("tr", {}, h("th", { scope: "row" }, humanize(name)), h("td", { class: "num" }, formatMetric(name, value))))))
      : h("p", { class: "muted" }, "This model ships no held-out metrics.")),
    variantTable(meta, variant, onVariant));
}

const HEADLINE_METRICS = ["accuracy", "mean_iou", "iou_pet"];

function variantTable(meta, selected, onVariant) {
  const variants = Object.entries(meta.variants || {});
  // Two metrics keep the table narrow: the headline ones first (the rest are above it).
  const available = [...new Set(variants.flatMap(([, info]) => Object.keys(info.metrics || {})))];
  const metricNames = [...HEADLINE_METRICS.filter((name) => available.includes(name)),
    ...available.filter((name) => !HEADLINE_METRICS.includes(name))].slice(0, 2);
  return h("fieldset", { class: "inference-variants", id: "inference-variants" },
    h("legend", {}, "Variant"),
    h("table", { class: "table" },
      h("thead", {}, h("tr", {},
        h("th", {}, "Variant"), h("th", {}, "Size"), h("th", {}, "Latency"),
        metricNames.map((name) => h("th", {}, humanize(name))))),
      h("tbody", {}, variants.map(([name, info]) => {
        const id = `inference-variant-${name}`;
        return h("tr", { "data-variant": name },
          h("td", {}, h("label", { for: id, class: "inference-variant-label", title: info.runtime || null },
            h("input", {
              type: "radio", name: "inference-variant", id, value: name, checked: name === selected,
              onchange: (event) => { if (event.target.checked) onVariant(name); },
            }), " ", name)),
          h("td", { class: "num", title: info.bytes ? `${info.bytes.toLocaleString()} bytes` : null },
            info.bytes ? formatBytes(info.bytes) : "—"),
          h("td", { class: "num" }, typeof info.latency_ms === "number" ? `${info.latency_ms.toFixed(1)} ms` : "—"),
          metricNames.map((metric) => h("td", { class: "num" },
            typeof info.metrics?.[metric] === "number" ? formatMetric(metric, info.metrics[metric]) : "—")));
      }))),
    h("p", { class: "hint" }, "Latency is the per-image time measured when the model was built; ",
      "the time shown with each result is the whole round trip measured by this browser."));
}

function fact(term, description) {
  return [h("dt", {}, term), h("dd", {}, description)];
}

function trainingFact(training) {
  if (!training?.data) return null;
  const data = training.data;
  const parts = [data.dataset];
  if (data.train_images) parts.push(`${data.train_images.toLocaleString()} training images`);
  if (training.epochs) parts.push(`${training.epochs} epochs`);
  if (training.architecture?.name) {
    const params = training.architecture.params ? ` (${training.architecture.params.toLocaleString()} parameters)` : "";
    parts.push(`${training.architecture.name}${params}`);
  }
  return fact("Training", parts.join(" · "));
}

export function formatMetric(name, value) {
  if (typeof value !== "number") return String(value);
  if (PERCENT_METRIC.test(name) && value >= 0 && value <= 1) return `${(value * 100).toFixed(1)}%`;
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

function humanize(name) {
  return name.replace(/_/g, " ").replace(/\biou\b/gi, "IoU");
}

function abbreviate(items, count) {
  return items.length > count ? `${items.slice(0, count).join(", ")}, …` : items.join(", ");
}
