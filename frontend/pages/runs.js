// #/runs[/<scenario_id>]: the run history, filterable by scenario and status, paged.
import { api, h } from "../api.js";
import {
  formatDateTime, formatSeconds, isFinal, RUN_STATUSES, runDuration, statusBadge,
} from "../components/runinfo.js";

const PAGE_SIZE = 25;
const REFRESH_MS = 3000;

export async function render(root, [scenarioFilter = ""]) {
  const state = { scenario: scenarioFilter, status: "", offset: 0 };
  const titles = new Map();
  const scenarioSelect = h("select", { id: "filter-scenario", onchange: () => refilter({ scenario: scenarioSelect.value }) },
    h("option", { value: "" }, "all scenarios"));
  const statusSelect = h("select", { id: "filter-status", onchange: () => refilter({ status: statusSelect.value }) },
    h("option", { value: "" }, "any status"),
    RUN_STATUSES.map((status) => h("option", { value: status }, status.replace("_", " "))));
  const body = h("tbody");
  const summary = h("span", { class: "muted" });
  const previous = h("button", { onclick: () => turnPage(-1) }, "← Newer");
  const next = h("button", { onclick: () => turnPage(1) }, "Older →");
  const message = h("p", { class: "error", hidden: true });
  let refreshTimer = null;
  let stopped = false;
  let latestRequest = 0;

  root.append(h("section", { class: "card" },
    h("h1", {}, "Runs"),
    h("div", { class: "filters" },
      h("label", {}, "Scenario ", scenarioSelect),
      h("label", {}, "Status ", statusSelect)),
    message,
    h("table", { class: "table runs-table" },
      h("thead", {}, h("tr", {}, ["Run", "Scenario", "Status", "Created", "Duration"].map((name) => h("th", {}, name)))),
      body),
    h("div", { class: "pager" }, previous, summary, next)));

  function refilter(change) {
    Object.assign(state, change, { offset: 0 });
    load();
  }

  function turnPage(direction) {
    state.offset = Math.max(0, state.offset + direction * PAGE_SIZE);
    load();
  }

  async function load() {
    clearTimeout(refreshTimer);
    const query = new URLSearchParams({ limit: PAGE_SIZE, offset: state.offset });
    if (state.scenario) query.set("scenario_id", state.scenario);
    if (state.status) query.set("status", state.status);
    const request = ++latestRequest;
    try {
      const page = await api(`/api/runs?${query}`);
      if (stopped || request !== latestRequest) return; // a newer filter or page won
      message.hidden = true;
      showPage(page);
      // Keep unfinished runs' status and duration current.
      if (page.items.some((run) => !isFinal(run.status))) refreshTimer = setTimeout(load, REFRESH_MS);
    } catch (error) {
      message.textContent = `Could not load runs: ${error.message}`;
      message.hidden = false;
    }
  }

  function showPage(page) {
    body.replaceChildren(...page.items.map((run) => runRow(run, titles)));
    if (!page.items.length) body.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No runs match.")));
    const first = page.total ? page.offset + 1 : 0;
    summary.textContent = `${first}–${page.offset + page.items.length} of ${page.total}`;
    previous.disabled = page.offset === 0;
    next.disabled = page.offset + page.items.length >= page.total;
  }

  async function loadScenarios() {
    try {
      const scenarios = await api("/api/scenarios");
      for (const scenario of scenarios) {
        titles.set(scenario.id, scenario.title);
        scenarioSelect.append(h("option", { value: scenario.id }, `${scenario.id} ${scenario.title}`));
      }
      scenarioSelect.value = state.scenario;
    } catch {
      // Filtering by scenario still works from the URL; the list is a convenience.
    }
  }

  await loadScenarios();
  await load();
  return () => {
    stopped = true;
    clearTimeout(refreshTimer);
  };
}

function runRow(run, titles) {
  const link = `#/run/${run.id}`;
  return h("tr", { class: "clickable", "data-run": run.id, onclick: (event) => {
    if (!event.target.closest("a")) location.hash = link;
  } },
    h("td", {}, h("a", { href: link, class: "run-id" }, run.id)),
    h("td", {}, h("span", { class: "scenario-id" }, run.scenario_id), " ", titles.get(run.scenario_id) || ""),
    h("td", {}, statusBadge(run.status)),
    h("td", {}, formatDateTime(run.created_at)),
    h("td", { class: "num" }, formatSeconds(runDuration(run))));
}
