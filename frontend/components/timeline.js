// A run's live timeline: one lane per actor (thread/process). Lanes are drawn on a canvas
// so a few thousand events stay smooth; lane labels, legend and tooltip are plain DOM.
import { h } from "../api.js";
import { TimelineModel } from "./timeline-model.js";

const LANE_HEIGHT = 26;
const AXIS_HEIGHT = 24;
const PAD_RIGHT = 12;
const MARK_HIT_PX = 5;
const LIVE_REDRAW_MS = 100;

// Lane geometry, relative to the lane's top.
const HOLD = { y: 2, h: 5 };
const BAR = { y: 8, h: 12 };
const TASK = { y: 17, h: 3 };
const TICK = { y: 21, h: 4 };

const LEGEND = [
  ["running", "running"],
  ["blocked", "blocked (lock, join, queue, barrier, event)"],
  ["sleeping", "sleeping"],
  ["holding", "holding a lock or semaphore"],
  ["task", "pool task"],
  ["queue", "queue put / get", "mark"],
  ["barrier", "barrier arrive / pass / broke", "mark"],
  ["release", "signal: semaphore release / acquire, event set", "mark"],
  ["output", "output line", "tick"],
];

const MARK_COLORS = { signal: "release" };
const COLOR_NAMES = ["running", "blocked", "sleeping", "holding", "task", "queue", "barrier",
  "release", "output", "grid", "axis", "stripe"];

export class Timeline {
  constructor() {
    this.model = new TimelineModel();
    this.live = true;
    this.clockOffsetNs = -Infinity; // server run time minus local time, best estimate so far
    this.frame = null;
    this.labelsByActor = new Map();

    this.canvas = h("canvas", { role: "img", "aria-label": "Timeline of the run's actors" });
    this.tooltip = h("div", { class: "tl-tooltip", hidden: true });
    this.labels = h("div", { class: "tl-labels" }, h("div", { style: `height:${AXIS_HEIGHT}px` }));
    this.plot = h("div", { class: "tl-plot" }, this.canvas, this.tooltip);
    this.placeholder = h("p", { class: "muted tl-empty" }, "Waiting for the first events…");
    this.element = h("div", { id: "timeline", class: "timeline" },
      legend(), this.placeholder, h("div", { class: "tl-body" }, this.labels, this.plot));

    this.canvas.addEventListener("mousemove", (e) => this.showTooltipAt(e));
    this.canvas.addEventListener("mouseleave", () => { this.tooltip.hidden = true; });
    this.resizeObserver = new ResizeObserver(() => this.requestDraw());
    this.resizeObserver.observe(this.plot);
    this.liveTimer = setInterval(() => this.live && this.requestDraw(), LIVE_REDRAW_MS);
  }

  addEvents(events) {
    const arrivalNs = performance.now() * 1e6;
    for (const event of events) {
      this.clockOffsetNs = Math.max(this.clockOffsetNs, event.t_ns - arrivalNs);
      const known = this.model.lanes.has(event.actor);
      const lane = this.model.add(event);
      if (!lane) continue;
      if (!known) this.addLabel(lane);
      if (event.type === "actor_start" || event.type === "actor_end") this.updateLabel(lane);
    }
    this.requestDraw();
  }

  /** The run is over: stop extending open bars to "now". */
  finish() {
    this.live = false;
    this.requestDraw();
  }

  destroy() {
    clearInterval(this.liveTimer);
    this.resizeObserver.disconnect();
    if (this.frame) cancelAnimationFrame(this.frame);
  }

  requestDraw() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  nowNs() {
    const lastT = this.model.lastT;
    if (!this.live || this.clockOffsetNs === -Infinity) return lastT;
    return Math.max(lastT, performance.now() * 1e6 + this.clockOffsetNs);
  }

  // --- labels ---------------------------------------------------------------------

  addLabel(lane) {
    const label = h("div", { class: "tl-label", "data-lane": lane.actor, style: `height:${LANE_HEIGHT}px` },
      h("span", { class: "tl-actor" }, lane.actor), h("span", { class: "tl-kind" }));
    this.labelsByActor.set(lane.actor, label);
    this.labels.append(label);
    this.placeholder.hidden = true;
  }

  updateLabel(lane) {
    const label = this.labelsByActor.get(lane.actor);
    label.dataset.kind = lane.kind;
    label.dataset.state = lane.end === null ? "alive" : "ended";
    label.querySelector(".tl-kind").textContent = lane.kind === "main" ? "" : lane.kind;
    label.title = describeLane(lane);
  }

  // --- drawing --------------------------------------------------------------------

  draw() {
    this.frame = null;
    const lanes = this.model.laneList;
    const width = this.plot.clientWidth;
    if (!lanes.length || !width) return;
    const height = AXIS_HEIGHT + lanes.length * LANE_HEIGHT;
    const ctx = this.prepareCanvas(width, height);
    this.colors ??= readColors(this.element);
    this.view = this.visibleRange(width);
    this.drawAxis(ctx, height);
    for (const lane of lanes) this.drawLane(ctx, lane);
  }

  prepareCanvas(width, height) {
    const ratio = window.devicePixelRatio || 1;
    if (this.canvas.width !== Math.round(width * ratio) || this.canvas.height !== Math.round(height * ratio)) {
      this.canvas.width = Math.round(width * ratio);
      this.canvas.height = Math.round(height * ratio);
      this.canvas.style.width = `${width}px`;
      this.canvas.style.height = `${height}px`;
    }
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    return ctx;
  }

  // From just before the first actor event (skipping the child process's start-up) to now.
  visibleRange(width) {
    const endNs = Math.max(this.nowNs(), this.model.firstT + 1e6);
    const startNs = Math.max(0, this.model.firstT - (endNs - this.model.firstT) * 0.02);
    return { width, startNs, endNs };
  }

  x(t) {
    const { startNs, endNs, width } = this.view;
    return ((t - startNs) / (endNs - startNs)) * (width - PAD_RIGHT);
  }

  timeAt(x) {
    const { startNs, endNs, width } = this.view;
    return startNs + (x / (width - PAD_RIGHT)) * (endNs - startNs);
  }

  drawAxis(ctx, height) {
    const { startNs, endNs, width } = this.view;
    const step = niceStep((endNs - startNs) / Math.max(1, width / 90));
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (let t = Math.ceil(startNs / step) * step; t <= endNs; t += step) {
      const x = Math.round(this.x(t)) + 0.5;
      ctx.fillStyle = this.colors.grid;
      ctx.fillRect(x, AXIS_HEIGHT - 4, 1, height - AXIS_HEIGHT + 4);
      ctx.fillStyle = this.colors.axis;
      ctx.textAlign = x < 20 ? "left" : "center";
      ctx.fillText(formatTime(t, step), x, AXIS_HEIGHT / 2 - 2);
    }
  }

  drawLane(ctx, lane) {
    const top = AXIS_HEIGHT + lane.index * LANE_HEIGHT;
    if (lane.index % 2) {
      ctx.fillStyle = this.colors.stripe;
      ctx.fillRect(0, top, this.view.width, LANE_HEIGHT);
    }
    const laneEnd = lane.end ?? this.nowNs();
    // Running first, under the rest. Only real threads/processes (actor_start) run: raw
    // "stderr" does not.
    for (const span of lane.spans) {
      if (span.kind === "running") this.fillSpan(ctx, span.start, span.end ?? laneEnd, top + BAR.y, BAR.h, this.colors.running, 1);
    }
    for (const span of lane.spans) {
      const end = span.end ?? laneEnd;
      if (span.kind === "running") continue;
      if (span.kind === "holding") this.fillSpan(ctx, span.start, end, top + HOLD.y, HOLD.h, this.colors.holding, 1);
      else if (span.kind === "task") this.fillSpan(ctx, span.start, end, top + TASK.y, TASK.h, this.colors.task, 1);
      else this.fillSpan(ctx, span.start, end, top + BAR.y, BAR.h, this.colors[span.kind], 0.5);
    }
    for (const mark of lane.marks) this.drawMark(ctx, mark, top);
  }

  fillSpan(ctx, start, end, y, height, color, minWidth) {
    const x0 = this.x(start);
    const width = this.x(end) - x0;
    if (width < minWidth && minWidth < 1) return; // instant, uncontended waits are noise
    ctx.fillStyle = color;
    ctx.fillRect(x0, y, Math.max(width, minWidth), height);
  }

  drawMark(ctx, mark, top) {
    const x = this.x(mark.t);
    ctx.fillStyle = this.colors[MARK_COLORS[mark.kind] ?? mark.kind];
    if (mark.kind === "output") {
      ctx.fillRect(x - 0.5, top + TICK.y, 1.5, TICK.h);
      return;
    }
    const cy = top + BAR.y + BAR.h / 2;
    ctx.beginPath();
    ctx.moveTo(x, cy - 5);
    ctx.lineTo(x + 4, cy);
    ctx.lineTo(x, cy + 5);
    ctx.lineTo(x - 4, cy);
    ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  // --- hover ----------------------------------------------------------------------

  showTooltipAt(mouse) {
    const lanes = this.model.laneList;
    const box = this.canvas.getBoundingClientRect();
    const x = mouse.clientX - box.left;
    const y = mouse.clientY - box.top;
    const lane = lanes[Math.floor((y - AXIS_HEIGHT) / LANE_HEIGHT)];
    if (!this.view || !lane || y < AXIS_HEIGHT) {
      this.tooltip.hidden = true;
      return;
    }
    const lines = this.describePoint(lane, x);
    if (!lines.length) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.replaceChildren(h("strong", {}, lane.actor), ...lines.map((line) => h("div", {}, line)));
    this.tooltip.hidden = false;
    const left = Math.min(x + 14, this.view.width - this.tooltip.offsetWidth - 4);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${y + 14}px`;
  }

  describePoint(lane, x) {
    const mark = nearestMark(lane.marks, (t) => this.x(t), x);
    if (mark) return describeMark(mark);
    const t = this.timeAt(x);
    const laneEnd = lane.end ?? this.nowNs();
    if (t < lane.start || t > laneEnd) return [];
    const covering = lane.spans.filter((span) => span.start <= t && t <= (span.end ?? laneEnd));
    const open = this.live && lane.end === null;
    const lines = covering.filter((span) => span.kind !== "running").map((span) => describeSpan(span, laneEnd, open));
    const busy = covering.some((span) => span.kind === "blocked" || span.kind === "sleeping");
    if (!busy && covering.some((span) => span.kind === "running")) lines.unshift(`running · ${formatMs(t)}`);
    return lines;
  }
}

function legend() {
  return h("ul", { class: "tl-legend" }, LEGEND.map(([kind, text, shape = "bar"]) =>
    h("li", {}, h("span", { class: `tl-swatch tl-${shape}`, "data-kind": kind }), text)));
}

function readColors(element) {
  const style = getComputedStyle(element);
  return Object.fromEntries(COLOR_NAMES.map((name) =>
    [name, style.getPropertyValue(`--tl-${name}`).trim() || "#888"]));
}

function nearestMark(marks, toX, x) {
  let best = null;
  let bestDistance = MARK_HIT_PX;
  for (const mark of marks) {
    const distance = Math.abs(toX(mark.t) - x);
    if (distance <= bestDistance) {
      best = mark;
      bestDistance = distance;
    }
  }
  return best;
}

function describeMark(mark) {
  const e = mark.event;
  const lines = [`${e.type} · ${formatMs(e.t_ns)}`];
  if (e.obj !== undefined) lines.push(`${e.primitive} ${e.obj}${e.value !== null && e.value !== undefined ? ` · value ${e.value}` : ""}`);
  if (e.queue !== undefined) lines.push(`${e.queue}: ${e.item} · size ${e.size}`);
  if (e.line !== undefined) lines.push(`${e.stream === "stderr" ? "stderr: " : ""}${e.line}`);
  return lines;
}

// `open`: the lane still runs, so an open span lasts until now, not "unfinished".
function describeSpan(span, laneEnd, open) {
  const end = span.end ?? laneEnd;
  const until = span.end === null && open ? "now" : formatMs(end);
  const unfinished = span.end === null && !open ? ", unfinished" : "";
  const when = `${formatMs(span.start)} → ${until} (${formatMs(end - span.start)}${unfinished})`;
  if (span.kind === "task") return `task ${span.task} of ${span.pool} · ${when}`;
  if (span.kind === "sleeping") return `sleeping ${span.obj} · ${when}`;
  if (span.kind === "holding") return `holding ${span.primitive} ${span.obj} · ${when}`;
  const value = span.value !== null && span.value !== undefined ? ` (value ${span.value})` : "";
  const gaveUp = span.gaveUp ? ` · gave up (${span.gaveUp.replace("_", " ")})` : "";
  return `blocked on ${span.primitive} ${span.obj}${value} · ${when}${gaveUp}`;
}

function describeLane(lane) {
  const parts = [lane.actor, lane.kind, lane.pid ? `pid ${lane.pid}` : ""];
  if (lane.daemon) parts.push("daemon");
  if (lane.parent) parts.push(`started by ${lane.parent}`);
  if (lane.end !== null) parts.push(`ended at ${formatMs(lane.end)}${lane.exitCode ? ` (exit ${lane.exitCode})` : ""}`);
  return parts.filter(Boolean).join(" · ");
}

// 1, 2 or 5 times a power of ten nanoseconds, at least `rough`.
function niceStep(rough) {
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= rough) return factor * power;
  return 10 * power;
}

function formatTime(t, step) {
  if (step >= 1e8) return `${+(t / 1e9).toFixed(step >= 1e9 ? 0 : 1)} s`;
  return `${+(t / 1e6).toFixed(step >= 1e6 ? 0 : 2)} ms`;
}

function formatMs(ns) {
  const ms = ns / 1e6;
  if (ms >= 10_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}
