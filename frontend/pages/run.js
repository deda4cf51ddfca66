// #/run/<id>: one run, live: status, timeline, output, metrics, error, trace export.
import { api, ApiError, h, postJson } from "../api.js";
import { OutputConsole } from "../components/console.js";
import { LabResults } from "../components/lab-results.js";
import { openInPerfetto } from "../components/perfetto.js";
import {
  formatDateTime, formatSeconds, isFinal, runDuration, statusBadge, updateStatusBadge,
} from "../components/runinfo.js";
import { RunStream } from "../components/runstream.js";
import { Timeline } from "../components/timeline.js";

const CONNECTION_TEXT = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", ended: "" };

export async function render(root, [runId]) {
  let run;
  try {
    run = await api(`/api/runs/${encodeURIComponent(runId || "")}`);
  } catch (error) {
    root.append(notFound(runId, error));
    return null;
  }
  const view = new RunView(root, run);
  return () => view.destroy();
}

class RunView {
  constructor(root, run) {
    this.run = run;
    this.status = run.status;
    this.timeline = new Timeline();
    this.console = new OutputConsole();
    this.labResults = new LabResults(run.id);
    this.build(root);
    this.showRunDetails(run);
    if (isFinal(run.status)) this.timeline.finish();
    this.loadScenarioTitle();
    this.stream = new RunStream(run.id, {
      onEvents: (events) => this.receive(events),
      onEnd: (end) => this.ended(end),
      onNotFound: () => this.showMessage("The server no longer knows this run."),
      onConnection: (state) => { this.connection.textContent = CONNECTION_TEXT[state] ?? state; },
    });
    this.stream.start();
  }

  destroy() {
    this.stream.stop();
    this.timeline.destroy();
    this.labResults.destroy();
  }

  // --- layout ---------------------------------------------------------------------

  build(root) {
    const run = this.run;
    const traceUrl = `/api/runs/${encodeURIComponent(run.id)}/trace`;
    this.title = h("span", { class: "scenario-title" });
    this.badge = statusBadge(run.status);
    this.badge.id = "run-status";
    this.connection = h("span", { class: "connection muted" });
    this.meta = h("p", { class: "run-meta muted" });
    this.message = h("p", { class: "run-message", role: "status", hidden: true });
    this.cancelButton = h("button", { id: "cancel-run", onclick: () => this.cancel() }, "Cancel");
    this.progress = h("progress", { class: "run-progress", hidden: true });
    this.metrics = h("tbody");
    this.metricsCard = h("section", { class: "card", id: "metrics", hidden: true }, h("h2", {}, "Metrics"),
      h("table", { class: "table" }, h("thead", {}, h("tr", {},
        ["Metric", "Value", "Unit", "Actor", "At"].map((name) => h("th", {}, name)))), this.metrics));
    this.errorText = h("pre", { class: "traceback" });
    this.errorCard = h("section", { class: "card", id: "run-error", hidden: true },
      h("h2", {}, "Error"), this.errorText);

    root.append(
      h("p", { class: "breadcrumb" }, h("a", { href: "#/runs" }, "Runs"), " / ", run.id),
      h("section", { class: "card run-header" },
        h("h1", {}, h("a", { href: `#/lab/${run.scenario_id}`, class: "scenario-id" }, run.scenario_id),
          " ", this.title, " ", this.badge, " ", this.connection),
        this.meta,
        h("div", { class: "actions" },
          this.cancelButton,
          h("a", { class: "button", id: "download-trace", href: traceUrl, download: `paralab-run-${run.id}.json` },
            "Download trace"),
          h("button", { id: "open-perfetto", onclick: () => this.openPerfetto(traceUrl) }, "Open in Perfetto"),
          h("a", { class: "button", href: `#/lab/${run.scenario_id}` }, "Run again…")),
        this.progress,
        this.message),
      this.errorCard,
      h("section", { class: "card" }, h("h2", {}, "Timeline"), this.timeline.element),
      this.labResults.element,
      h("section", { class: "card" }, h("h2", {}, "Output"), this.console.element),
      this.metricsCard);
    this.updateCancel();
  }

  async loadScenarioTitle() {
    try {
      const scenario = await api(`/api/scenarios/${encodeURIComponent(this.run.scenario_id)}`);
      this.title.textContent = scenario.title;
    } catch {
      // The id alone is still a useful title.
    }
  }

  // --- stream ---------------------------------------------------------------------

  receive(events) {
    this.timeline.addEvents(events);
    this.console.append(events.filter((event) => event.type === "output"));
    this.labResults.addEvents(events);
    for (const event of events) {
      if (event.type === "run") this.lifecycle(event);
      else if (event.type === "metric") this.addMetric(event);
      else if (event.type === "progress") this.showProgress(event);
    }
    // Lifecycle events may be absent from the stream: any scenario event means it runs.
    if (this.status === "queued" && events.some((event) => event.type !== "run")) this.setStatus("running");
  }

  lifecycle(event) {
    this.setStatus(event.status);
    if (event.detail && event.status === "failed") this.showError(event.detail);
  }

  async ended(end) {
    this.setStatus(end.status);
    try {
      const run = await api(`/api/runs/${encodeURIComponent(this.run.id)}`);
      this.setStatus(run.status);
      this.showRunDetails(run);
    } catch {
      // The stream already told us how it ended.
    }
  }

  setStatus(status) {
    if (!status || (isFinal(this.status) && !isFinal(status))) return; // replays never go back
    this.status = status;
    updateStatusBadge(this.badge, status);
    this.updateCancel();
    if (isFinal(status)) {
      this.timeline.finish();
      this.progress.hidden = true;
    }
  }

  updateCancel() {
    this.cancelButton.disabled = isFinal(this.status);
  }

  // --- details --------------------------------------------------------------------

  showRunDetails(run) {
    const params = Object.entries(run.params || {}).map(([name, value]) => `${name}=${value}`).join(", ");
    this.meta.replaceChildren(
      `created ${formatDateTime(run.created_at)}`,
      runDuration(run) !== null ? ` · duration ${formatSeconds(runDuration(run))}` : "",
      run.exit_code !== null && run.exit_code !== undefined ? ` · exit code ${run.exit_code}` : "",
      params ? " · " : "", params ? h("code", {}, params) : "");
    if (run.status === "timed_out") this.showMessage(run.error || "Stopped at its time limit.");
    else if (run.status === "cancelled") this.showMessage(run.error || "Cancelled.");
    else if (run.error) this.showError(run.error);
  }

  showError(text) {
    this.errorText.textContent = text;
    this.errorCard.hidden = false;
  }

  showMessage(text) {
    this.message.textContent = text;
    this.message.hidden = false;
  }

  addMetric(event) {
    this.metricsCard.hidden = false;
    this.metrics.append(h("tr", {},
      h("td", {}, event.name, ...metricLabels(event.labels)),
      h("td", { class: "num" }, formatNumber(event.value)),
      h("td", {}, event.unit),
      h("td", {}, event.actor),
      h("td", { class: "num" }, `${(event.t_ns / 1e6).toFixed(1)} ms`)));
  }

  showProgress(event) {
    this.progress.hidden = isFinal(this.status);
    this.progress.max = Math.max(event.total, 1);
    this.progress.value = event.done;
    this.progress.title = `${event.label ? `${event.label}: ` : ""}${event.done} / ${event.total}`;
  }

  // --- actions --------------------------------------------------------------------

  async cancel() {
    this.cancelButton.disabled = true;
    try {
      const run = await postJson(`/api/runs/${encodeURIComponent(this.run.id)}/cancel`, {});
      this.setStatus(run.status);
    } catch (error) {
      this.showMessage(`Could not cancel: ${error.message}`);
      this.updateCancel();
    }
  }

  async openPerfetto(traceUrl) {
    try {
      await openInPerfetto(traceUrl, {
        title: `ParaLab ${this.run.scenario_id} run ${this.run.id}`,
        fileName: `paralab-run-${this.run.id}.json`,
      });
    } catch (error) {
      this.showMessage(`${error.message} "Download trace" works offline; open the file at ui.perfetto.dev.`);
    }
  }
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function notFound(runId, error) {
  const missing = error instanceof ApiError && error.status === 404;
  return h("section", { class: "card" },
    h("h1", {}, missing ? "Run not found" : "Could not load the run"),
    h("p", { class: "error" }, missing ? `There is no run “${runId}”.` : error.message),
    h("p", {}, h("a", { href: "#/runs" }, "See all runs")));
}

// A labelled metric is one point of a curve: show which (mode=processes workers=2).
function metricLabels(labels) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return [];
  return [" ", h("span", { class: "metric-labels" },
    entries.map(([key, value]) => `${key}=${value}`).join(" "))];
}
