// A run's live timeline: one lane per actor (thread/process). Lanes are drawn on a canvas
// so a few thousand events stay smooth; lane labels, process headers, legend and tooltip are
// plain DOM. A run of several processes groups the lanes by process, parent before child,
// each group under a header (name, pid, start method, daemon, parent, how it ended); a run
// of one process has no header and looks as it always did.
import { h } from "../api.js";
import { signalName, TimelineModel } from "./timeline-model.js";

const LANE_HEIGHT = 26;
const AXIS_HEIGHT = 24;
const GROUP_HEIGHT = 24; // at least: a header wraps onto more lines when the card is narrow
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
// Shown once the run has more than one process (or uses shared memory).
const PROCESS_LEGEND = [
  ["starting", "process start-up (start() → its code runs)", "bar", "processes"],
  ["process", "process start / stop / exit", "mark", "processes"],
  ["killed", "killed (terminate, kill, parent exit); faded from the stop to the exit seen", "cross", "processes"],
  ["shm", "shared memory create / attach / close / unlink", "square", "shm"],
];

const MARK_COLORS = { signal: "release" };
const COLOR_NAMES = ["running", "blocked", "sleeping", "holding", "task", "queue", "barrier",
  "release", "output", "grid", "axis", "stripe", "process", "shm", "killed", "starting"];

const KILLED_TEXTS = {
  terminate: "killed by terminate()",
  kill: "killed by kill()",
  parent_exit: "killed at parent exit (daemon)",
};
const STOP_BY = { terminate: "terminate()", kill: "kill()", parent_exit: "its parent's exit" };
const STOPPING_TEXTS = { terminate: "terminate() sent", kill: "kill() sent", parent_exit: "parent exit: stop sent" };

export class Timeline {
  constructor() {
    this.model = new TimelineModel();
    this.live = true;
    this.clockOffsetNs = -Infinity; // server run time minus local time, best estimate so far
    this.frame = null;
    this.labelsByLane = new Map();
    this.headers = new Map(); // by pid: {element, gap}
    this.rows = [];
    this.height = AXIS_HEIGHT;
    this.layoutDirty = true;

    this.canvas = h("canvas", { role: "img", "aria-label": "Timeline of the run's actors" });
    this.tooltip = h("div", { class: "tl-tooltip", hidden: true });
    this.axisGap = h("div", { style: `height:${AXIS_HEIGHT}px` });
    this.labels = h("div", { class: "tl-labels" }, this.axisGap);
    this.groups = h("div", { class: "tl-groups" });
    this.plot = h("div", { class: "tl-plot" }, this.canvas, this.tooltip);
    this.placeholder = h("p", { class: "muted tl-empty" }, "Waiting for the first events…");
    this.legendExtras = PROCESS_LEGEND.map(legendItem);
    this.element = h("div", { id: "timeline", class: "timeline" },
      h("ul", { class: "tl-legend" }, LEGEND.map(legendItem), this.legendExtras),
      this.placeholder, h("div", { class: "tl-body" }, this.labels, this.plot, this.groups));

    this.canvas.addEventListener("mousemove", (e) => this.showTooltipAt(e));
    this.canvas.addEventListener("mouseleave", () => { this.tooltip.hidden = true; });
    this.resizeObserver = new ResizeObserver(() => this.requestDraw());
    this.resizeObserver.observe(this.plot);
    this.liveTimer = setInterval(() => this.live && this.requestDraw(), LIVE_REDRAW_MS);
  }

  addEvents(events) {
    const arrivalNs = performance.now() * 1e6;
    const touched = new Set(); // the lanes whose label may say something new
    for (const event of events) {
      this.clockOffsetNs = Math.max(this.clockOffsetNs, event.t_ns - arrivalNs);
      const lanes = this.model.lanes.size;
      const lane = this.model.add(event);
      if (!lane) continue;
      if (this.model.lanes.size !== lanes) this.addLabels();
      if (event.type.startsWith("actor_")) touched.add(lane);
      else if (event.type.startsWith("process_")) {
        for (const childLane of this.model.processes.get(event.child_pid).lanes) touched.add(childLane);
        this.layoutDirty = true; // a spawn arriving late may move a process under its parent
      } else if (event.type === "shm") this.showLegend("shm");
    }
    if (touched.size || this.layoutDirty) this.refreshLabels(touched);
    this.requestDraw();
  }

  /** The run is over: stop extending open bars to "now". */
  finish() {
    this.live = false;
    this.refreshLabels();
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

  get grouped() {
    return this.model.processes.size > 1;
  }

  // --- labels and process headers ------------------------------------------------

  addLabels() {
    for (const lane of this.model.lanes.values()) {
      if (this.labelsByLane.has(lane.key)) continue;
      const label = h("div", { class: "tl-label", "data-lane": lane.actor, "data-pid": lane.pid,
        style: `height:${LANE_HEIGHT}px` }, h("span", { class: "tl-actor" }, lane.actor), h("span", { class: "tl-kind" }));
      this.labelsByLane.set(lane.key, label);
    }
    this.placeholder.hidden = true;
    this.layoutDirty = true;
  }

  refreshLabels(lanes = this.model.lanes.values()) {
    for (const lane of lanes) {
      const label = this.labelsByLane.get(lane.key);
      const killedBy = this.killedBy(lane);
      label.dataset.kind = lane.kind;
      label.dataset.state = killedBy ? "killed" : lane.end === null ? "alive" : "ended";
      if (killedBy) label.dataset.killed = killedBy;
      else delete label.dataset.killed;
      label.querySelector(".tl-kind").textContent = killedBy ? "killed" : lane.kind === "main" ? "" : lane.kind;
      label.title = describeLane(lane, killedBy);
    }
    if (this.grouped) {
      for (const process of this.model.processes.values()) this.refreshHeader(process);
      this.showLegend("processes");
      this.layoutDirty = true; // a header may wrap onto one more line, or one less
    }
  }

  // Seen dead (process_exit), or, once the run is over, stopped and never seen again.
  killedBy(lane) {
    if (lane.killedBy || this.live || lane.end !== null) return lane.killedBy;
    const open = lane.spans.findLast((span) => span.end === null && span.killedBy);
    return open?.killedBy ?? null;
  }

  showLegend(group) {
    for (const item of this.legendExtras) if (item.dataset.group === group) item.hidden = false;
  }

  refreshHeader(process) {
    let header = this.headers.get(process.pid);
    if (!header) {
      header = { element: h("div", { class: "tl-group", "data-process": process.pid }), gap: h("div", { class: "tl-group-gap" }) };
      this.headers.set(process.pid, header);
      this.groups.append(header.element);
    }
    const status = this.processStatus(process);
    const facts = processFacts(process, this.model);
    header.element.dataset.state = status.state;
    header.element.title = [`${processName(process)} · pid ${process.pid}`, ...facts, status.text].filter(Boolean).join(" · ");
    // The status before the facts: on a narrow screen it is what must not be cut off.
    header.element.replaceChildren(
      h("span", { class: "tl-group-name" }, processName(process)),
      h("span", { class: "tl-group-pid" }, `pid ${process.pid}`),
      ...(status.text ? [h("span", { class: "tl-group-status" }, status.text)] : []),
      ...facts.map((fact) => h("span", { class: "tl-group-fact" }, fact)));
  }

  processStatus(process) {
    if (process.killedBy) {
      const how = KILLED_TEXTS[process.killedBy] ?? `killed by ${process.killedBy}`;
      return { state: "killed", text: `${how} · ${exitText(process.exitCode)}` };
    }
    if (process.stopping && process.exitCode === null) {
      if (this.live) return { state: "stopping", text: STOPPING_TEXTS[process.stopping] };
      return { state: "killed", text: `${KILLED_TEXTS[process.stopping]} · exit not seen` };
    }
    if (process.exitCode !== null) return { state: process.exitCode ? "failed" : "ended", text: exitText(process.exitCode) };
    if (process.spawnT !== null && process.startT === null) return { state: "starting", text: "starting…" };
    return { state: "alive", text: "" };
  }

  // Rows top to bottom: the axis, then per process (parent first) its header and its lanes.
  // A header is as tall as its text wrapped to the width of the card.
  layout() {
    this.layoutDirty = false;
    this.layoutWidth = this.element.clientWidth;
    const grouped = this.grouped;
    this.groups.hidden = !grouped;
    const rows = [];
    const nodes = [this.axisGap];
    let top = AXIS_HEIGHT;
    let ordinal = 0;
    for (const process of grouped ? this.model.processList : [null]) {
      if (process) {
        const header = this.headers.get(process.pid) ?? (this.refreshHeader(process), this.headers.get(process.pid));
        const height = Math.max(GROUP_HEIGHT, Math.ceil(header.element.getBoundingClientRect().height));
        rows.push({ process, top, height });
        setStyle(header.element, "top", `${top}px`);
        setStyle(header.gap, "height", `${height}px`);
        nodes.push(header.gap);
        top += height;
      }
      for (const lane of process ? process.lanes : this.model.laneList) {
        const label = this.labelsByLane.get(lane.key);
        const stripe = ordinal++ % 2 === 1;
        label.classList.toggle("tl-stripe", stripe);
        label.classList.toggle("tl-in-group", grouped);
        rows.push({ lane, top, height: LANE_HEIGHT, stripe });
        nodes.push(label);
        top += LANE_HEIGHT;
      }
    }
    const current = this.labels.children;
    if (current.length !== nodes.length || nodes.some((node, i) => current[i] !== node)) this.labels.replaceChildren(...nodes);
    this.rows = rows;
    this.height = top;
  }

  // --- drawing --------------------------------------------------------------------

  draw() {
    this.frame = null;
    const width = this.plot.clientWidth;
    if (!this.model.lanes.size || !width) return;
    if (this.layoutDirty || this.element.clientWidth !== this.layoutWidth) this.layout();
    const ctx = this.prepareCanvas(width, this.height);
    this.colors ??= readColors(this.element);
    this.startingFill ??= hatch(ctx, this.colors.starting, this.colors.running);
    this.view = this.visibleRange(width);
    this.drawAxis(ctx, this.height);
    for (const row of this.rows) if (row.lane) this.drawLane(ctx, row.lane, row.top, row.stripe);
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
    const step = niceStep((endNs - startNs) / Math.max(2, width / 90)); // 2 ticks even on a phone
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

  drawLane(ctx, lane, top, stripe) {
    if (stripe) {
      ctx.fillStyle = this.colors.stripe;
      ctx.fillRect(0, top, this.view.width, LANE_HEIGHT);
    }
    const laneEnd = lane.end ?? this.nowNs();
    // Running first, under the rest. Only real threads/processes (actor_start) run: raw
    // "stderr" does not.
    for (const span of lane.spans) {
      if (span.kind === "running") this.fillSpan(ctx, span.start, span.end ?? laneEnd, top + BAR.y, BAR.h, this.colors.running, 1);
      else if (span.kind === "starting") this.drawStarting(ctx, span, span.end ?? laneEnd, top);
    }
    for (const span of lane.spans) {
      const end = span.end ?? laneEnd;
      if (span.kind === "running" || span.kind === "starting") continue;
      if (span.kind === "holding") this.fillSpan(ctx, span.start, end, top + HOLD.y, HOLD.h, this.colors.holding, 1);
      else if (span.kind === "task") this.fillSpan(ctx, span.start, end, top + TASK.y, TASK.h, this.colors.task, 1);
      else this.fillSpan(ctx, span.start, end, top + BAR.y, BAR.h, this.colors[span.kind], 0.5);
    }
    const stopT = this.model.processes.get(lane.pid)?.stopT ?? null;
    for (const span of lane.spans) {
      if (!span.killedBy) continue;
      const end = span.end ?? laneEnd;
      // Between the stop sent and the exit seen the process may already be dead: faded.
      if (stopT !== null && span.start < stopT && stopT < end) this.drawDying(ctx, stopT, end, top);
      if (span.end !== null || !this.live) this.drawKilled(ctx, this.x(end), top);
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

  // The start-up is not running yet: pale and hatched, outlined in the running colour.
  drawStarting(ctx, span, end, top) {
    const x0 = this.x(span.start);
    const width = Math.max(this.x(end) - x0, 1);
    ctx.fillStyle = this.startingFill;
    ctx.fillRect(x0, top + BAR.y, width, BAR.h);
    ctx.strokeStyle = this.colors.running;
    ctx.lineWidth = 1;
    ctx.strokeRect(x0 + 0.5, top + BAR.y + 0.5, Math.max(width - 1, 0), BAR.h - 1);
  }

  drawDying(ctx, start, end, top) {
    const x0 = this.x(start);
    ctx.fillStyle = "rgba(255, 255, 255, 0.6)";
    ctx.fillRect(x0, top + BAR.y, this.x(end) - x0, BAR.h);
    ctx.fillStyle = this.colors.killed;
    ctx.fillRect(x0 - 0.75, top + BAR.y - 2, 1.5, BAR.h + 4);
  }

  drawKilled(ctx, x, top) {
    const cy = top + BAR.y + BAR.h / 2;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 4;
    cross(ctx, x, cy, 5);
    ctx.strokeStyle = this.colors.killed;
    ctx.lineWidth = 2;
    cross(ctx, x, cy, 5);
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
    if (mark.kind === "shm") ctx.rect(x - 3.5, cy - 3.5, 7, 7);
    else {
      ctx.moveTo(x, cy - 5);
      ctx.lineTo(x + 4, cy);
      ctx.lineTo(x, cy + 5);
      ctx.lineTo(x - 4, cy);
      ctx.closePath();
    }
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  // --- hover ----------------------------------------------------------------------

  showTooltipAt(mouse) {
    const box = this.canvas.getBoundingClientRect();
    const x = mouse.clientX - box.left;
    const y = mouse.clientY - box.top;
    const row = this.rows.find((r) => r.top <= y && y < r.top + r.height);
    const lines = this.view && row?.lane ? this.describePoint(row.lane, x) : [];
    if (!lines.length) {
      this.tooltip.hidden = true;
      return;
    }
    const lane = row.lane;
    const title = this.grouped ? `${lane.actor} · pid ${lane.pid}` : lane.actor;
    this.tooltip.replaceChildren(h("strong", {}, title), ...lines.map((line) => h("div", {}, line)));
    // Inside the timeline (over the labels if the plot is too narrow): right of the pointer
    // if it fits, below it unless that overflows the last lane.
    const labelsWidth = this.labels.offsetWidth;
    Object.assign(this.tooltip.style, { maxWidth: `${this.view.width + labelsWidth - 8}px`, width: "",
      left: `${-labelsWidth}px` }); // measured with all the room it may take, then kept that wide
    this.tooltip.hidden = false;
    const width = Math.ceil(this.tooltip.getBoundingClientRect().width);
    this.tooltip.style.width = `${width}px`;
    const left = Math.min(x + 14, this.view.width - width - 4);
    const below = y + 14;
    const top = below + this.tooltip.offsetHeight > this.height ? y - this.tooltip.offsetHeight - 10 : below;
    this.tooltip.style.left = `${Math.max(-labelsWidth, left)}px`;
    this.tooltip.style.top = `${Math.max(0, top)}px`;
  }

  describePoint(lane, x) {
    const mark = nearestMark(lane.marks, (t) => this.x(t), x);
    if (mark) return describeMark(mark);
    const laneEnd = lane.end ?? this.nowNs();
    const killed = lane.spans.find((span) => span.killedBy && (span.end !== null || !this.live)
      && Math.abs(this.x(span.end ?? laneEnd) - x) <= MARK_HIT_PX);
    const process = this.model.processes.get(lane.pid);
    if (killed) return [...describeKilled(killed, laneEnd), ...describeStop(process)];
    const t = this.timeAt(x);
    if (t < lane.start || t > laneEnd) return [];
    const covering = lane.spans.filter((span) => span.start <= t && t <= (span.end ?? laneEnd));
    const open = this.live && lane.end === null;
    const lines = covering.filter((span) => span.kind !== "running").map((span) => describeSpan(span, laneEnd, open));
    const busy = covering.some((span) => span.kind === "blocked" || span.kind === "sleeping");
    if (!busy && covering.some((span) => span.kind === "running")) lines.unshift(`running · ${formatMs(t)}`);
    if (process && process.stopT !== null && t >= process.stopT && covering.some((span) => span.killedBy)) {
      lines.push(...describeStop(process));
    }
    return lines;
  }
}

function legendItem([kind, text, shape = "bar", group]) {
  return h("li", { hidden: Boolean(group), "data-group": group },
    h("span", { class: `tl-swatch tl-${shape}`, "data-kind": kind }), text);
}

function readColors(element) {
  const style = getComputedStyle(element);
  return Object.fromEntries(COLOR_NAMES.map((name) =>
    [name, style.getPropertyValue(`--tl-${name}`).trim() || "#888"]));
}

// Diagonal stripes of `ink` on `paper`, repeating every 6 px.
function hatch(ctx, paper, ink) {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 6;
  const t = tile.getContext("2d");
  t.fillStyle = paper;
  t.fillRect(0, 0, 6, 6);
  t.strokeStyle = ink;
  t.globalAlpha = 0.55;
  t.lineWidth = 1.2;
  t.beginPath();
  for (const offset of [-6, 0, 6]) {
    t.moveTo(offset, 6);
    t.lineTo(offset + 6, 0);
  }
  t.stroke();
  return ctx.createPattern(tile, "repeat");
}

function cross(ctx, x, y, r) {
  ctx.beginPath();
  ctx.moveTo(x - r, y - r);
  ctx.lineTo(x + r, y + r);
  ctx.moveTo(x + r, y - r);
  ctx.lineTo(x - r, y + r);
  ctx.stroke();
}

function setStyle(element, name, value) {
  if (element.style[name] !== value) element.style[name] = value;
}

function processName(process) {
  return process.name || process.mainActor || "process";
}

function processFacts(process, model) {
  const facts = [];
  if (process.startMethod) {
    const startup = process.spawnT !== null && process.startT !== null
      ? ` (start-up ${formatMs(process.startT - process.spawnT)})` : "";
    facts.push(`${process.startMethod}${startup}`);
  } else if (process.main) facts.push("the run's main process");
  if (process.daemon) facts.push("daemon");
  const parent = model.processes.get(process.parentPid);
  const parentName = (parent && parent.name) || process.parent;
  if (parentName) facts.push(`parent ${parentName}`);
  return facts;
}

function exitText(code) {
  return code < 0 ? `exit ${code} (${signalName(-code)})` : `exit ${code}`;
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
  if (e.type === "process_spawn") lines.push(`${mark.text}${e.daemon ? ", daemon" : ""} · pid ${e.child_pid}`);
  if (e.type === "process_stop") lines.push(`${mark.text} · ${e.signal} to pid ${e.child_pid}`);
  if (e.type === "process_exit") lines.push(`${mark.text} · pid ${e.child_pid}`);
  if (e.type === "shm") lines.push(mark.text, `${e.size} bytes`);
  return lines;
}

function describeStop(process) {
  if (!process || process.stopT === null) return [];
  return [`${process.stopSignal} sent at ${formatMs(process.stopT)} by ${STOP_BY[process.stopReason]}`];
}

function describeKilled(span, laneEnd) {
  const how = KILLED_TEXTS[span.killedBy] ?? `killed by ${span.killedBy}`;
  const code = span.exitCode !== null && span.exitCode !== undefined ? exitText(span.exitCode) : "exit not seen";
  const what = span.kind === "starting" ? "during its start-up" : "";
  return [`${how} · ${formatMs(span.end ?? laneEnd)}`, [code, what].filter(Boolean).join(" · ")];
}

// `open`: the lane still runs, so an open span lasts until now, not "unfinished".
function describeSpan(span, laneEnd, open) {
  const end = span.end ?? laneEnd;
  const until = span.end === null && open ? "now" : formatMs(end);
  const unfinished = span.end === null && !open ? ", unfinished" : "";
  const when = `${formatMs(span.start)} → ${until} (${formatMs(end - span.start)}${unfinished})`;
  if (span.kind === "starting") {
    const killed = span.killedBy ? ` · ${KILLED_TEXTS[span.killedBy] ?? `killed by ${span.killedBy}`}` : "";
    return `${span.startMethod} start-up: ${formatMs(end - span.start)}${unfinished} · ${formatMs(span.start)} → ${until}${killed}`;
  }
  if (span.kind === "task") return `task ${span.task} of ${span.pool} · ${when}`;
  if (span.kind === "sleeping") return `sleeping ${span.obj} · ${when}`;
  if (span.kind === "holding") return `holding ${span.primitive} ${span.obj} · ${when}`;
  const value = span.value !== null && span.value !== undefined ? ` (value ${span.value})` : "";
  const gaveUp = span.gaveUp ? ` · gave up (${span.gaveUp.replace("_", " ")})` : "";
  return `blocked on ${span.primitive} ${span.obj}${value} · ${when}${gaveUp}`;
}

function describeLane(lane, killedBy) {
  const parts = [lane.actor, lane.kind, lane.pid ? `pid ${lane.pid}` : ""];
  if (lane.daemon) parts.push("daemon");
  if (lane.parent) parts.push(`started by ${lane.parent}`);
  if (lane.end !== null) parts.push(`ended at ${formatMs(lane.end)}${lane.exitCode ? ` (exit ${lane.exitCode})` : ""}`);
  if (killedBy) parts.push(KILLED_TEXTS[killedBy] ?? `killed by ${killedBy}`);
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
