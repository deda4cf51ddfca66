// #/lab: the scenario catalog; #/lab/<id>: one scenario, its source and a form to run it.
import { api, ApiError, h, postJson } from "../api.js";
import { parameterForm } from "../components/paramform.js";
import { formatDateTime, formatSeconds, runDuration, statusBadge } from "../components/runinfo.js";

export async function render(root, [scenarioId]) {
  try {
    if (scenarioId) await renderScenario(root, scenarioId);
    else await renderCatalog(root);
  } catch (error) {
    root.replaceChildren(failure(error));
  }
}

// --- catalog ----------------------------------------------------------------------

async function renderCatalog(root) {
  const scenarios = await api("/api/scenarios");
  root.append(
    h("section", { class: "card prose" }, h("h1", {}, "Lab"),
      h("p", {}, "Small, real concurrency programs. Pick one, set its parameters, run it, and ",
        "watch every thread and process on a live timeline.")),
    ...groupByPart(scenarios).map(partSection));
}

function groupByPart(scenarios) {
  const parts = new Map();
  for (const scenario of scenarios) {
    if (!parts.has(scenario.part)) {
      parts.set(scenario.part, { id: scenario.part, title: scenario.part_title, sections: new Map() });
    }
    const sections = parts.get(scenario.part).sections;
    if (!sections.has(scenario.section)) {
      sections.set(scenario.section, { id: scenario.section, title: scenario.section_title, scenarios: [] });
    }
    sections.get(scenario.section).scenarios.push(scenario);
  }
  return [...parts.values()];
}

function partSection(part) {
  return h("section", { class: "catalog-part", "data-part": part.id },
    h("h2", {}, part.title),
    h("div", { class: "catalog-grid" }, [...part.sections.values()].map(sectionCard)));
}

function sectionCard(section) {
  return h("article", { class: "card catalog-section", "data-section": section.id },
    h("h3", {}, h("span", { class: "section-id" }, section.id), " ", section.title),
    h("ul", { class: "scenario-list" }, section.scenarios.map((scenario) =>
      h("li", {}, h("a", { href: `#/lab/${scenario.id}`, title: scenario.observe, "data-scenario": scenario.id },
        h("span", { class: "scenario-id" }, scenario.id), " ", scenario.title)))));
}

// --- one scenario -----------------------------------------------------------------

async function renderScenario(root, scenarioId) {
  const scenario = await api(`/api/scenarios/${encodeURIComponent(scenarioId)}`);
  const form = parameterForm(scenario.params_schema || {}, scenario.defaults || {});
  const runButton = h("button", { type: "submit", class: "primary", id: "run-button" }, "Run");
  const recent = h("div", { class: "recent-runs" });

  async function submit(event) {
    event.preventDefault();
    form.clearErrors();
    runButton.disabled = true;
    try {
      const run = await postJson("/api/runs", { scenario_id: scenario.id, params: form.values() });
      location.hash = `#/run/${run.id}`;
    } catch (error) {
      form.showError(error);
      runButton.disabled = false;
    }
  }

  root.append(
    h("p", { class: "breadcrumb" }, h("a", { href: "#/lab" }, "Lab"), " / ",
      `${scenario.section} ${scenario.section_title}`),
    h("section", { class: "card" },
      h("h1", {}, h("span", { class: "scenario-id" }, scenario.id), " ", scenario.title),
      h("p", { class: "observe prose" }, h("strong", {}, "What to observe: "), scenario.observe),
      h("form", { id: "run-form", novalidate: true, onsubmit: submit },
        h("h2", {}, "Parameters"), form.element, h("div", { class: "actions" }, runButton))),
    h("section", { class: "card" }, h("h2", {}, "Source"),
      h("pre", { class: "source", id: "source" }, h("code", {}, scenario.source || "(no source)"))),
    h("section", { class: "card" },
      h("h2", {}, "Recent runs ", h("a", { class: "small", href: `#/runs/${scenario.id}` }, "all runs →")),
      recent));
  loadRecentRuns(recent, scenario.id);
}

async function loadRecentRuns(container, scenarioId) {
  try {
    const page = await api(`/api/runs?scenario_id=${encodeURIComponent(scenarioId)}&limit=5`);
    container.replaceChildren(page.items.length
      ? h("ul", { class: "run-list" }, page.items.map((run) => h("li", {},
          h("a", { href: `#/run/${run.id}` }, formatDateTime(run.created_at)), " ",
          statusBadge(run.status), " ", h("span", { class: "muted" }, formatSeconds(runDuration(run))))))
      : h("p", { class: "muted" }, "Not run yet."));
  } catch (error) {
    container.replaceChildren(h("p", { class: "muted" }, `Run history unavailable: ${error.message}`));
  }
}

function failure(error) {
  const notFound = error instanceof ApiError && error.status === 404;
  return h("section", { class: "card" },
    h("h1", {}, notFound ? "Scenario not found" : "Could not load the lab"),
    h("p", { class: "error" }, error.message),
    h("p", {}, h("a", { href: "#/lab" }, "Back to the catalog")));
}
