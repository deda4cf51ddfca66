// A lab's results on its run page, live: what its `metric` events (with `labels`) and its
// `artifact` events say, drawn the way a reader of the lab needs them.
//
// - Points labelled {mode, workers} (wall_s, speedup, efficiency; any other metric so
//   labelled becomes an extra column): a table, a speed-up chart against workers with the
//   ideal line and, when the lab reports serial_fraction / fit_residual labelled {mode}, the
//   Amdahl fit S(n) = 1 / (f + (1 - f) / n), and an efficiency chart. The core count that
//   matters is the server's, not this browser's: it is marked only when the lab prints
//   "this machine has N cores" (it does when a sweep goes past them).
// - Points labelled {method, size_mib} (L3's handover_s): one line per method against the
//   size, on log scales when the range needs them, and a table (with the {size_mib} metrics).
// - Image artifacts: a responsive grid of lazy-loaded pictures, grouped by photo; other
//   artifacts as download links.
// - Every other metric: a labelled value list.
// Charts are SVG drawn at their box's width in CSS pixels, so their text keeps its size on a
// phone and on a projector; they are drawn again when the box changes width.
import { h } from "../api.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const POINT_METRICS = ["wall_s", "speedup", "efficiency"];
const FIT_METRICS = ["serial_fraction", "fit_residual"];
const CORES_LINE = /^this machine has (\d+) cores?\b/i;
const IMAGE_NAME = /^(.*)-[^-]+\.(png|jpe?g|gif|webp|svg|avif)$/i; // l2-<photo>-<filter>.png
const MODE_COLORS = { sequential: "#475467", processes: "#1d3557", threads: "#d9480f" };
const METHOD_COLORS = { pickle: "#d9480f", shm: "#0e7490" };
const PALETTE = ["#1d3557", "#d9480f", "#0e7490", "#6a4c93", "#2b8a3e", "#c2185b"];
const MARKERS = ["circle", "square", "diamond", "triangle"];
const IDEAL = { color: "#667085", dash: "7 5", width: 2.5 };
const FIT = { color: "#2a9d8f", dash: "2 4", width: 3.5 };
const TITLES = { handover_s: "Hand-over time" };
let nextId = 0;

export class LabResults {
  constructor(runId) {
    this.runId = runId;
    this.points = new Map(); // "mode|workers" -> {mode, workers, values: Map(name -> metric)}
    this.modes = []; // in the order first seen, sequential first
    this.extraColumns = new Map(); // name -> unit: other metrics labelled {mode, workers}
    this.fits = new Map(); // mode -> {serial_fraction, fit_residual}
    this.bySize = new Map(); // name -> Map(method -> Map(size_mib -> value))
    this.sizeUnits = new Map(); // name -> unit, for bySize
    this.sizeOnly = new Map(); // name -> {unit, values: Map(size_mib -> value)}: labelled {size_mib}
    this.others = new Map(); // name + labels -> the latest metric
    this.artifacts = new Map();
    this.cores = null; // only what the lab printed
    this.coresText = null;
    this.frame = null;
    this.width = 0;

    this.curves = h("div", { class: "lr-block", hidden: true });
    this.sizes = h("div", { class: "lr-block", hidden: true });
    this.pictureGroups = h("div", { class: "lr-picture-groups" });
    this.files = h("ul", { class: "lr-files", hidden: true });
    this.pictures = h("div", { class: "lr-block", hidden: true },
      h("h3", {}, "Pictures"), this.pictureGroups, this.files);
    this.otherList = h("dl", { class: "lr-values" });
    this.otherBlock = h("div", { class: "lr-block", hidden: true }, h("h3", {}, "Other measurements"), this.otherList);
    this.element = h("section", { class: "card lab-results", id: "lab-results", hidden: true,
      "aria-labelledby": "lab-results-title" },
    h("h2", { id: "lab-results-title" }, "Results"), this.curves, this.sizes, this.pictures, this.otherBlock);

    this.resizeObserver = new ResizeObserver(() => {
      if (this.element.clientWidth && this.element.clientWidth !== this.width) this.schedule();
    });
    this.resizeObserver.observe(this.element);
  }

  destroy() {
    this.resizeObserver.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
  }

  addEvents(events) {
    let changed = false;
    for (const event of events) {
      if (event.type === "metric") changed = this.addMetric(event) || changed;
      else if (event.type === "artifact") this.addArtifact(event);
      else if (event.type === "output") changed = this.readOutput(event) || changed;
    }
    if (changed) this.schedule();
  }

  // --- what the events say ------------------------------------------------------------

  addMetric(metric) {
    const labels = metric.labels || {};
    const keys = Object.keys(labels).sort().join(",");
    if (keys === "mode,workers" && Number(labels.workers) >= 1) {
      this.addPoint(metric, labels.mode, Number(labels.workers));
    } else if (keys === "mode" && FIT_METRICS.includes(metric.name)) {
      this.fits.set(labels.mode, { ...this.fits.get(labels.mode), [metric.name]: metric.value });
    } else if (keys === "method,size_mib" && Number(labels.size_mib) > 0) {
      const methods = getOrAdd(this.bySize, metric.name, () => new Map());
      getOrAdd(methods, labels.method, () => new Map()).set(Number(labels.size_mib), metric.value);
      this.sizeUnits.set(metric.name, metric.unit || "");
    } else if (keys === "size_mib" && Number(labels.size_mib) > 0) {
      const column = getOrAdd(this.sizeOnly, metric.name, () => ({ unit: metric.unit || "", values: new Map() }));
      column.values.set(Number(labels.size_mib), metric.value);
    } else {
      this.others.set(`${metric.name}|${JSON.stringify(sortedEntries(labels))}`, metric);
    }
    if (keys) this.element.hidden = false;
    return true;
  }

  addPoint(metric, mode, workers) {
    const point = getOrAdd(this.points, `${mode}|${workers}`, () => ({ mode, workers, values: new Map() }));
    point.values.set(metric.name, metric);
    if (!this.modes.includes(mode)) {
      if (mode === "sequential") this.modes.unshift(mode);
      else this.modes.push(mode);
    }
    if (!POINT_METRICS.includes(metric.name)) this.extraColumns.set(metric.name, metric.unit || "");
  }

  // Pictures and files are added in place, as they come: a redraw never reloads a picture.
  addArtifact(artifact) {
    if (this.artifacts.has(artifact.name)) return;
    this.artifacts.set(artifact.name, artifact);
    this.element.hidden = false;
    this.pictures.hidden = false;
    if ((artifact.media_type || "").startsWith("image/")) this.addPicture(artifact);
    else this.addFile(artifact);
  }

  readOutput(output) {
    const line = (output.line || "").trim();
    const match = CORES_LINE.exec(line);
    if (!match) return false;
    this.cores = Number(match[1]);
    this.coresText = line;
    return true;
  }

  // --- drawing ------------------------------------------------------------------------

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  render() {
    if (this.element.hidden) return;
    this.width = this.element.clientWidth;
    this.renderCurves();
    this.renderSizes();
    this.renderOthers();
  }

  artifactUrl(name) {
    return `/api/runs/${encodeURIComponent(this.runId)}/artifacts/${encodeURIComponent(name)}`;
  }

  // Points labelled {mode, workers}: speed-up and efficiency charts, legend, notes, table.
  renderCurves() {
    const rows = this.sortedPoints();
    this.curves.hidden = !rows.length;
    if (!rows.length) return;
    const speedup = h("div", { class: "lr-chart", id: "lr-speedup-chart" });
    const efficiency = h("div", { class: "lr-chart", id: "lr-efficiency-chart" });
    fill(this.curves,
      h("div", { class: "lr-charts" },
        h("figure", { class: "lr-figure" }, h("figcaption", {}, "Speed-up against workers"), speedup),
        h("figure", { class: "lr-figure" }, h("figcaption", {}, "Efficiency against workers"), efficiency)),
      this.curveLegend(rows),
      this.curveNotes(),
      h("h3", {}, "Measured points"),
      this.pointTable(rows));
    // The boxes are in the page now: draw at their width.
    speedup.append(this.workersChart(rows, speedup.clientWidth, {
      key: "speedup",
      title: "Speed-up against the number of workers",
      label: "speed-up (×)",
      top: (maxWorkers) => Math.max(maxWorkers, ...rows.map((row) => row.speedup ?? 0)) * 1.05,
      tick: (v) => `${formatTick(v)}×`,
      text: (row) => `${formatNumber(row.speedup)}×`,
      ideal: (n) => n,
      idealText: "ideal: speed-up = workers",
      fit: (f, n) => amdahl(f, n),
    }));
    efficiency.append(this.workersChart(rows, efficiency.clientWidth, {
      key: "efficiency",
      title: "Efficiency (speed-up ÷ workers) against the number of workers",
      label: "efficiency (%)",
      top: () => Math.max(1.1, ...rows.map((row) => (row.efficiency ?? 0) * 1.08)),
      tick: (v) => `${formatTick(v * 100)}%`,
      text: (row) => formatPercent(row.efficiency),
      ideal: () => 1,
      idealText: "ideal: efficiency 100%",
      fit: (f, n) => amdahl(f, n) / n,
    }));
  }

  sortedPoints() {
    const order = (row) => this.modes.indexOf(row.mode);
    return [...this.points.values()]
      .map((point) => ({ ...point, ...pointValues(point) }))
      .sort((a, b) => order(a) - order(b) || a.workers - b.workers);
  }

  workersChart(rows, width, spec) {
    const maxWorkers = Math.max(2, ...rows.map((row) => row.workers));
    const modes = this.modes.filter((mode) => mode !== "sequential" && rows.some((row) => row.mode === mode));
    const fits = [...this.fits].filter(([mode, fit]) => fit.serial_fraction !== undefined && modes.includes(mode));
    const chart = new Chart({
      width,
      title: spec.title,
      desc: describePoints(rows, spec.text) +
        fits.map(([mode, fit]) => ` Amdahl fit for ${mode}: serial fraction ${fit.serial_fraction.toFixed(3)}.`).join(""),
      x: workersAxis(maxWorkers),
      y: { min: 0, max: spec.top(maxWorkers), label: spec.label, format: spec.tick },
    });
    if (this.cores !== null && this.cores >= 1 && this.cores < maxWorkers) {
      chart.threshold(this.cores, `${this.cores} cores`, "oversubscription",
        `past the ${this.cores} cores: oversubscription`);
    }
    chart.line(sample(1, maxWorkers, spec.ideal, 1), { ...IDEAL, data: { line: "ideal" }, title: spec.idealText });
    for (const [mode, fit] of fits) {
      chart.line(sample(1, maxWorkers, (n) => spec.fit(fit.serial_fraction, n)), {
        ...FIT, data: { line: "amdahl", mode }, title: `Amdahl fit (${mode}): f = ${fit.serial_fraction.toFixed(3)}` });
    }
    const wall = (row) => (row.wall_s !== null ? ` (wall ${formatSeconds(row.wall_s)})` : "");
    for (const mode of modes) {
      const color = modeColor(mode, this.modes);
      const series = rows.filter((row) => row.mode === mode && row[spec.key] !== null);
      if (series.length > 1) {
        chart.line(series.map((row) => [row.workers, row[spec.key]]), { color, width: 3, data: { line: "measured", mode } });
      }
      for (const row of series) {
        chart.marker(row.workers, row[spec.key], { color, shape: "circle", data: markerData(row, spec.key),
          title: `${mode} × ${row.workers}: ${spec.text(row)}${wall(row)}` });
      }
    }
    for (const row of rows.filter((r) => r.mode === "sequential" && r[spec.key] !== null)) {
      chart.marker(row.workers, row[spec.key], { color: modeColor("sequential", this.modes), shape: "square",
        data: markerData(row, spec.key), title: `sequential baseline: ${spec.text(row)}${wall(row)}` });
    }
    return chart.element;
  }

  curveLegend(rows) {
    const items = [];
    for (const mode of this.modes.filter((m) => rows.some((row) => row.mode === m))) {
      const color = modeColor(mode, this.modes);
      items.push(mode === "sequential"
        ? legendItem(swatch({ color, marker: "square", line: false }), "sequential baseline (speed-up 1 by definition)")
        : legendItem(swatch({ color, marker: "circle" }), `${mode}, measured`));
    }
    items.push(legendItem(swatch(IDEAL), "ideal: speed-up = workers (efficiency 100%)"));
    for (const [mode, fit] of this.fits) {
      if (fit.serial_fraction === undefined) continue;
      const f = fit.serial_fraction;
      items.push(h("li", { "data-legend": "amdahl" }, swatch(FIT),
        h("span", {}, `Amdahl fit (${mode}): `, h("strong", {}, `f = ${f.toFixed(3)}`),
          fit.fit_residual !== undefined ? `, RMS residual ${formatNumber(fit.fit_residual)}×` : "",
          f > 0 ? `; at most 1/f = ${formatNumber(1 / f)}× with any number of workers` : "")));
    }
    if (this.cores !== null) {
      items.push(legendItem(h("span", { class: "lr-swatch lr-swatch-over" }),
        `past the ${this.cores} cores: oversubscription (workers take turns on the same cores)`));
    }
    return h("ul", { class: "lr-legend", "aria-label": "Legend of the charts" }, items);
  }

  curveNotes() {
    return [
      this.fits.size ? h("p", { class: "lr-note" }, "Amdahl's law: S(n) = 1 / (f + (1 − f) / n), ",
        "f the serial fraction of the work, fitted to the measured speed-ups.") : null,
      this.coresText ? h("p", { class: "lr-note lr-cores", "data-cores": String(this.cores) },
        h("strong", {}, "The lab says: "), this.coresText) : null,
    ];
  }

  pointTable(rows) {
    const extras = [...this.extraColumns];
    // Soft hyphens: on a phone the heads may break, so that the table fits without scrolling.
    const heads = ["Mode", "Work\u00ADers", "Wall time", "Speed-up", "Effi\u00ADciency",
      ...extras.map(([name, unit]) => (unit ? `${prettyName(name)} (${unit})` : prettyName(name)))];
    const cell = (column, text) => h("td", { class: "num", "data-col": column }, text);
    const body = rows.map((row) => h("tr", { dataset: { mode: row.mode, workers: String(row.workers) } },
      h("th", { scope: "row" },
        h("span", { class: "lr-dot", style: `background:${modeColor(row.mode, this.modes)}` }), row.mode),
      cell("workers", String(row.workers)),
      cell("wall_s", row.wall_s === null ? "—" : formatSeconds(row.wall_s)),
      cell("speedup", row.speedup === null ? "—" : `${formatNumber(row.speedup)}×`),
      cell("efficiency", row.efficiency === null ? "—" : formatPercent(row.efficiency)),
      extras.map(([name, unit]) => {
        const metric = row.values.get(name);
        return cell(name, metric ? formatInColumn(metric.value, unit) : "—");
      })));
    return table("lr-points",
      "Measured points: wall time, speed-up against the sequential baseline and efficiency, by mode and workers",
      heads, body);
  }

  // Points labelled {method, size_mib}: one chart per metric, one line per method, a table.
  renderSizes() {
    const names = [...this.bySize.keys()];
    this.sizes.hidden = !names.length && !this.sizeOnly.size;
    if (this.sizes.hidden) return;
    const methods = [...new Set(names.flatMap((name) => [...this.bySize.get(name).keys()]))];
    const holders = names.map((name) => [name, h("div", { class: "lr-chart", "data-chart": name })]);
    const legend = () => h("ul", { class: "lr-legend", "aria-label": "Legend of the chart" },
      methods.map((method, i) => legendItem(swatch(methodStyle(method, i)), method)));
    fill(this.sizes,
      h("h3", {}, names.length === 1 ? `${titleOf(names[0])} against array size` : "By array size"),
      h("div", { class: "lr-charts" },
        holders.map(([name, holder]) => h("figure", { class: "lr-figure" },
          names.length > 1 ? h("figcaption", {}, `${titleOf(name)} by method`) : null, holder, legend())),
        h("div", { class: "lr-side" }, this.sizeTable(names, methods))));
    for (const [name, holder] of holders) holder.append(this.sizeChart(name, methods, holder.clientWidth));
  }

  sizeChart(name, methods, width) {
    const series = this.bySize.get(name);
    const unit = this.sizeUnits.get(name);
    const sizes = [...new Set([...series.values()].flatMap((points) => [...points.keys()]))].sort((a, b) => a - b);
    const values = [...series.values()].flatMap((points) => [...points.values()]);
    const smallest = sizes[0];
    const largest = sizes[sizes.length - 1];
    const low = Math.min(...values);
    const high = Math.max(...values);
    const what = titleOf(name).toLowerCase();
    const format = (v) => formatValue(v, unit, true);
    let x = { min: 0, max: largest * 1.08, label: "array size (MiB)" };
    if (largest / smallest >= 8) {
      x = { min: smallest / 1.4, max: largest * 1.4, log: true, ticks: sizes, label: "array size (MiB, log scale)" };
    } else if (sizes.length === 1) { // one size: in the middle
      x = { min: smallest / 2, max: smallest * 2, log: true, ticks: sizes, label: "array size (MiB)" };
    }
    const y = low > 0 && high / low >= 20
      ? { min: decadeBelow(low / 1.3), max: decadeAbove(high * 1.3), log: true,
        label: `${what} (${unit || "value"}, log scale)` }
      : { min: 0, max: Math.max(high, 0) * 1.1 || 1, label: unit ? `${what} (${unit})` : what };
    const sorted = (points) => [...points].sort((a, b) => a[0] - b[0]);
    const chart = new Chart({
      width,
      title: `${titleOf(name)} against array size, by method`,
      desc: [...series].map(([method, points]) =>
        `${method}: ${sorted(points).map(([size, v]) => `${formatMib(size)} ${format(v)}`).join(", ")}.`).join(" "),
      x: { ...x, format: formatMib },
      y: { ...y, format },
    });
    methods.forEach((method, i) => {
      if (!series.has(method)) return;
      const points = sorted(series.get(method));
      const style = methodStyle(method, i);
      if (points.length > 1) chart.line(points, { ...style, data: { line: "method", method } });
      for (const [size, value] of points) {
        chart.marker(size, value, { color: style.color, shape: style.marker,
          data: { point: name, method, size: String(size), value: String(value) },
          title: `${method}, ${formatMib(size)}: ${formatValue(value, unit)}` });
      }
    });
    return chart.element;
  }

  sizeTable(names, methods) {
    const columns = [];
    for (const name of names) {
      for (const method of methods.filter((m) => this.bySize.get(name).has(m))) {
        columns.push({ head: names.length > 1 ? `${titleOf(name)}, ${method}` : method, key: `${name}:${method}`,
          unit: this.sizeUnits.get(name), values: this.bySize.get(name).get(method) });
      }
    }
    for (const [name, { unit, values }] of this.sizeOnly) columns.push({ head: prettyName(name), key: name, unit, values });
    const sizes = [...new Set(columns.flatMap((column) => [...column.values.keys()]))].sort((a, b) => a - b);
    const body = sizes.map((size) => h("tr", { dataset: { size: String(size) } },
      h("th", { scope: "row" }, formatMib(size)),
      columns.map((column) => h("td", { class: "num", "data-col": column.key },
        column.values.has(size) ? formatValue(column.values.get(size), column.unit) : "—"))));
    return table("lr-sizes", "Measurements by array size", ["Size", ...columns.map((column) => column.head)], body);
  }

  renderOthers() {
    const metrics = [...this.others.values()];
    this.otherBlock.hidden = !metrics.length;
    fill(this.otherList, metrics.map((metric) => h("div", { class: "lr-value", "data-metric": metric.name },
      h("dt", {}, metric.name,
        sortedEntries(metric.labels || {}).map(([key, value]) => h("span", { class: "lr-label" }, `${key}=${value}`))),
      h("dd", {}, formatValue(metric.value, metric.unit)))));
  }

  addPicture(artifact) {
    const match = IMAGE_NAME.exec(artifact.name);
    const groupName = match ? match[1] : "";
    let group = [...this.pictureGroups.children].find((node) => node.dataset.group === groupName);
    if (!group) {
      group = h("div", { class: "lr-picture-group", "data-group": groupName },
        h("h4", { class: "lr-group-title" }, groupName.replace(/^l\d+-/i, "")),
        h("div", { class: "lr-pictures" }));
      this.pictureGroups.append(group);
    }
    const url = this.artifactUrl(artifact.name);
    const caption = artifact.description || artifact.name;
    group.lastElementChild.append(h("figure", { class: "lr-picture", "data-artifact": artifact.name },
      h("a", { href: url, target: "_blank", rel: "noopener", title: `Open ${artifact.name} full size` },
        h("img", { src: url, alt: `${caption} (${artifact.name})`, loading: "lazy", decoding: "async" })),
      h("figcaption", {}, h("strong", {}, caption), h("span", { class: "muted" }, formatBytes(artifact.size)),
        h("span", { class: "lr-file-name" }, artifact.name))));
    // A group's title (the photo) only says something when there are several.
    const several = this.pictureGroups.children.length > 1;
    for (const title of this.pictureGroups.querySelectorAll(".lr-group-title")) {
      title.hidden = !several || !title.textContent;
    }
  }

  addFile(artifact) {
    this.files.hidden = false;
    this.files.append(h("li", { "data-artifact": artifact.name },
      h("a", { href: this.artifactUrl(artifact.name), download: artifact.name }, artifact.name),
      ` ${artifact.media_type}, ${formatBytes(artifact.size)}`,
      artifact.description ? ` — ${artifact.description}` : ""));
  }
}

// --- the chart ----------------------------------------------------------------------------

// Axes, grid and a plot area in CSS pixels. x and y are {min, max, label, format, log?,
// ticks?}: ticks a list, or a function of pixels per unit (for the workers axis).
class Chart {
  constructor({ width, title, desc, x, y }) {
    this.width = Math.max(260, Math.floor(width || 0) || 480);
    this.font = this.width >= 520 ? 15 : 13;
    this.height = Math.round(Math.min(420, Math.max(250, this.width * 0.62)));
    const yTicks = y.ticks || scale(y, 0, 1).ticks(Math.max(3, Math.round(this.height / 70)));
    const tickWidth = Math.max(...yTicks.map((t) => textWidth(y.format(t), this.font)));
    const margin = { top: 26, right: 20, bottom: this.font * 2 + 30, left: Math.ceil(tickWidth + this.font + 24) };
    this.box = { left: margin.left, right: this.width - margin.right, top: margin.top, bottom: this.height - margin.bottom };
    this.x = scale(x, this.box.left, this.box.right);
    this.y = scale(y, this.box.bottom, this.box.top);
    const id = ++nextId;
    this.element = svg("svg", { class: "lr-svg", width: this.width, height: this.height,
      viewBox: `0 0 ${this.width} ${this.height}`, role: "img", "aria-labelledby": `lr-title-${id} lr-desc-${id}`,
      "font-size": this.font },
    svg("title", { id: `lr-title-${id}` }, title), svg("desc", { id: `lr-desc-${id}` }, desc),
    svg("clipPath", { id: `lr-clip-${id}` }, svg("rect", { x: this.box.left - 8, y: this.box.top - 8,
      width: this.box.right - this.box.left + 16, height: this.box.bottom - this.box.top + 16 })));
    this.back = svg("g", { class: "lr-back" });
    this.grid = svg("g", { class: "lr-grid" });
    this.plot = svg("g", { class: "lr-plot", "clip-path": `url(#lr-clip-${id})` }); // a fit may leave the plot
    this.marks = svg("g", { class: "lr-marks" });
    this.element.append(this.back, this.grid, this.plot, this.marks);
    this.drawAxes(x, y, thin(yTicks, this.y, () => this.font * 1.8));
  }

  drawAxes(x, y, yTicks) {
    const { left, right, top, bottom } = this.box;
    const perUnit = Math.abs(this.x(1) - this.x(0));
    const candidates = typeof x.ticks === "function" ? x.ticks(perUnit, (t) => textWidth(x.format(t), this.font))
      : x.ticks || this.x.ticks(Math.max(2, Math.round((right - left) / 80)));
    const xTicks = thin(candidates, this.x, (t) => textWidth(x.format(t), this.font) + 10);
    for (const t of yTicks) {
      const py = this.y(t);
      this.grid.append(svg("line", { x1: left, x2: right, y1: py, y2: py, class: "lr-gridline" }),
        svg("text", { x: left - 8, y: py, class: "lr-tick", "text-anchor": "end", "dominant-baseline": "middle" },
          y.format(t)));
    }
    for (const t of xTicks) {
      const px = this.x(t);
      this.grid.append(svg("line", { x1: px, x2: px, y1: top, y2: bottom, class: "lr-gridline" }),
        svg("text", { x: px, y: bottom + this.font + 6, class: "lr-tick", "text-anchor": "middle" }, x.format(t)));
    }
    this.grid.append(
      svg("line", { x1: left, x2: right, y1: bottom, y2: bottom, class: "lr-axis" }),
      svg("line", { x1: left, x2: left, y1: top, y2: bottom, class: "lr-axis" }),
      svg("text", { x: (left + right) / 2, y: this.height - 10, class: "lr-axis-label", "text-anchor": "middle" },
        x.label),
      svg("text", { x: 0, y: 0, class: "lr-axis-label", "text-anchor": "middle",
        transform: `translate(${this.font + 2} ${(top + bottom) / 2}) rotate(-90)` }, y.label));
  }

  line(points, { color, width = 3, dash = null, data = {}, title = null }) {
    const d = points.map(([px, py], i) => `${i ? "L" : "M"}${this.x(px).toFixed(1)},${this.y(py).toFixed(1)}`).join("");
    this.plot.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": width, "stroke-dasharray": dash,
      "stroke-linejoin": "round", "stroke-linecap": "round", data }, title ? svg("title", {}, title) : null));
  }

  marker(px, py, { color, shape = "circle", data = {}, title = "" }) {
    const r = this.font >= 15 ? 7 : 6;
    const node = markerShape(shape, this.x(px), this.y(py), r,
      { fill: color, stroke: "#fff", "stroke-width": 2, class: "lr-marker", data });
    node.append(svg("title", {}, title));
    this.marks.append(node);
  }

  // A line at x = `at` labelled above the plot, and the range past it shaded, named above
  // the plot too when there is room for both names (the legend says it anyway).
  threshold(at, label, bandLabel, title) {
    const { left, right, top, bottom } = this.box;
    const px = Math.min(right, Math.max(left, this.x(at)));
    const onRight = px > (left + right) / 2;
    const labelX = onRight ? px - 6 : px + 6;
    const labelEnd = onRight ? px : labelX + textWidth(label, this.font);
    const band = svg("g", { data: { mark: "oversubscription" } },
      svg("rect", { x: px, y: top, width: right - px, height: bottom - top, class: "lr-over" }, svg("title", {}, title)));
    if (right - textWidth(bandLabel, this.font) - 8 >= labelEnd + 4) {
      band.append(svg("text", { x: right, y: top - 10, class: "lr-band-label", "text-anchor": "end" }, bandLabel));
    }
    this.back.append(band, svg("g", { data: { mark: "cores" } },
      svg("line", { x1: px, x2: px, y1: top - 6, y2: bottom, class: "lr-vertical" }),
      svg("text", { x: labelX, y: top - 10, class: "lr-vertical-label", "text-anchor": onRight ? "end" : "start" },
        label)));
  }
}

function markerShape(shape, cx, cy, r, attrs) {
  const k = r * 1.3;
  if (shape === "square") return svg("rect", { ...attrs, x: cx - r, y: cy - r, width: 2 * r, height: 2 * r });
  if (shape === "diamond") {
    return svg("path", { ...attrs, d: `M${cx},${cy - k}L${cx + k},${cy}L${cx},${cy + k}L${cx - k},${cy}Z` });
  }
  if (shape === "triangle") return svg("path", { ...attrs, d: `M${cx},${cy - k}L${cx + k},${cy + r}L${cx - k},${cy + r}Z` });
  return svg("circle", { ...attrs, cx, cy, r });
}

function scale(axis, from, to) {
  const log = axis.log && axis.min > 0;
  const t = log ? Math.log10 : (v) => v;
  const d0 = t(axis.min);
  const d1 = t(axis.max);
  const f = (v) => from + ((t(v) - d0) / (d1 - d0 || 1)) * (to - from);
  f.ticks = (count) => (log ? logTicks(axis.min, axis.max) : niceTicks(axis.min, axis.max, count));
  return f;
}

function niceTicks(min, max, count) {
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
  const ticks = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

// Decades (1, 10, 100 ...), with 2 and 5 between them when there are fewer than three.
function logTicks(min, max) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= min && v <= max) ticks.push(v);
    }
  }
  const decades = ticks.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
  return decades.length >= 3 ? decades : ticks;
}

function decadeBelow(value) {
  return 10 ** Math.floor(Math.log10(value));
}

function decadeAbove(value) {
  return 10 ** Math.ceil(Math.log10(value));
}

// Drop the ticks whose labels would touch the one before.
function thin(ticks, position, widthOf) {
  const kept = [];
  for (const t of ticks) {
    const last = kept[kept.length - 1];
    if (last === undefined || Math.abs(position(t) - position(last)) >= (widthOf(t) + widthOf(last)) / 2) kept.push(t);
  }
  return kept;
}

// 1, 2, 3 ... or, when they do not fit, 1 and every 2nd, 4th, 5th or 10th worker count.
function workersAxis(maxWorkers) {
  const pad = 0.25 + (maxWorkers - 1) * 0.04;
  const ticks = (perUnit, widthOf) => {
    const room = widthOf(String(maxWorkers)) + 12;
    const step = [1, 2, 4, 5, 10, 20, 50].find((s) => s * perUnit >= room) || 100;
    const counts = [1];
    for (let n = step; n <= maxWorkers; n += step) if (n > 1) counts.push(n);
    return counts;
  };
  return { min: 1 - pad, max: maxWorkers + pad, ticks, label: "workers (threads or processes)", format: String };
}

function textWidth(text, font) {
  return String(text).length * font * 0.6;
}

function sample(from, to, fn, steps = 64) {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const v = from + ((to - from) * i) / steps;
    return [v, fn(v)];
  });
}

function amdahl(f, n) {
  return 1 / (f + (1 - f) / n);
}

// --- small helpers --------------------------------------------------------------------------

// replaceChildren, flattening lists and skipping what is absent.
function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "data") for (const [name, v] of Object.entries(value)) node.setAttribute(`data-${name}`, v);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(id, caption, heads, body) {
  return h("div", { class: "lr-table-wrap" },
    h("table", { class: "table lr-table", id },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, heads.map((head, i) => h("th", { scope: "col", class: i ? "num" : null }, head)))),
      h("tbody", {}, body)));
}

function getOrAdd(map, key, make) {
  if (!map.has(key)) map.set(key, make());
  return map.get(key);
}

function pointValues(point) {
  const get = (name) => (point.values.has(name) ? point.values.get(name).value : null);
  const speedup = get("speedup");
  const efficiency = get("efficiency") ?? (speedup !== null ? speedup / point.workers : null);
  return { wall_s: get("wall_s"), speedup, efficiency };
}

function markerData(row, key) {
  return { point: key, mode: row.mode, workers: String(row.workers), value: String(row[key]) };
}

function describePoints(rows, text) {
  const modes = [...new Set(rows.map((row) => row.mode))];
  const described = modes.map((mode) => {
    const points = rows.filter((row) => row.mode === mode && row.speedup !== null)
      .map((row) => `${row.workers} worker${row.workers > 1 ? "s" : ""} ${text(row)}`);
    return `${mode}: ${points.join(", ")}.`;
  });
  return `${described.join(" ")} Ideal: speed-up equals workers.`;
}

function legendItem(mark, text) {
  return h("li", {}, mark, h("span", {}, text));
}

// A legend's sample: a line (dashed or not) with a marker on it, or a marker alone.
function swatch({ color, marker = null, line = true, dash = null, width = 3 }) {
  const node = svg("svg", { class: "lr-swatch", width: 34, height: 16, viewBox: "0 0 34 16", "aria-hidden": "true" });
  if (line) {
    node.append(svg("line", { x1: 2, x2: 32, y1: 8, y2: 8, stroke: color, "stroke-width": width,
      "stroke-dasharray": dash, "stroke-linecap": "round" }));
  }
  if (marker) node.append(markerShape(marker, 17, 8, 5.5, { fill: color, stroke: "#fff", "stroke-width": 1.5 }));
  return node;
}

function modeColor(mode, modes) {
  return MODE_COLORS[mode] || PALETTE[Math.max(0, modes.indexOf(mode)) % PALETTE.length];
}

function methodStyle(method, index) {
  return { color: METHOD_COLORS[method] || PALETTE[index % PALETTE.length], marker: MARKERS[index % MARKERS.length],
    dash: index % 2 ? "9 4" : null, width: 3 };
}

function titleOf(name) {
  return TITLES[name] || name;
}

// shm_over_pickle -> "shm / pickle": a column head, not an identifier.
function prettyName(name) {
  return name.replace(/_over_/g, " / ").replace(/_per_/g, " per ").replace(/_/g, " ");
}

function sortedEntries(labels) {
  return Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
}

// --- numbers ------------------------------------------------------------------------------

const SIG3 = new Intl.NumberFormat("en", { maximumSignificantDigits: 3 });
const SIG4 = new Intl.NumberFormat("en", { maximumSignificantDigits: 4 });
const WHOLE = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });

function formatNumber(value) {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 1000 ? WHOLE.format(value) : SIG3.format(value);
}

function formatTick(value) {
  return Number(value.toPrecision(6)).toLocaleString("en");
}

function formatSeconds(seconds, short = false) {
  const abs = Math.abs(seconds);
  if (abs === 0) return "0 s";
  if (abs < 1e-3) return `${formatNumber(seconds * 1e6)} µs`;
  if (abs < 1) return `${formatNumber(seconds * 1e3)} ms`;
  return `${(short ? SIG3 : SIG4).format(seconds)} s`;
}

function formatPercent(value) {
  return `${Math.round(value * 100)}%`;
}

function formatValue(value, unit = "", short = false) {
  if (unit === "s") return formatSeconds(value, short);
  if (unit === "x") return `${formatNumber(value)}×`;
  if (unit === "%") return `${formatNumber(value)}%`;
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

// Under a head that names the unit: seconds still say ms or µs, other units only the number.
function formatInColumn(value, unit) {
  return ["s", "x", "%"].includes(unit) ? formatValue(value, unit) : formatNumber(value);
}

function formatMib(size) {
  if (size >= 1024 && size % 1024 === 0) return `${size / 1024} GiB`;
  return `${formatNumber(size)} MiB`;
}

function formatBytes(size) {
  if (!Number.isFinite(size)) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 ** 2) return `${formatNumber(size / 1024)} KiB`;
  return `${formatNumber(size / 1024 ** 2)} MiB`;
}
