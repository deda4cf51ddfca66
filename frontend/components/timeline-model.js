// Turns the run's event stream into per-actor lanes of spans and marks, incrementally.
//
// A span has {kind, start, end, ...}; end === null while it is still open (drawn to "now").
// Span kinds: "blocked" (waiting on a lock, join, queue, barrier, event...), "sleeping",
// "holding" (owns a lock/rlock/semaphore) and "task" (a pool task). Marks are instants.

const HELD_PRIMITIVES = new Set(["lock", "rlock", "semaphore"]);
const NOT_ON_A_LANE = new Set(["run", "metric", "progress"]);

export class TimelineModel {
  constructor() {
    this.lanes = new Map();
    this.firstT = Infinity;
    this.lastT = 0;
  }

  get laneList() {
    return [...this.lanes.values()];
  }

  add(event) {
    if (NOT_ON_A_LANE.has(event.type)) return null;
    this.firstT = Math.min(this.firstT, event.t_ns);
    this.lastT = Math.max(this.lastT, event.t_ns);
    const lane = this.laneFor(event);
    const handler = HANDLERS[event.type];
    if (handler) handler(lane, event);
    return lane;
  }

  laneFor(event) {
    let lane = this.lanes.get(event.actor);
    if (!lane) {
      lane = newLane(event.actor, event.t_ns, this.lanes.size);
      this.lanes.set(event.actor, lane);
    }
    lane.pid = event.pid;
    return lane;
  }
}

function newLane(actor, t, index) {
  return {
    actor,
    index,
    kind: "",
    pid: null,
    start: t,
    end: null,
    exitCode: null,
    spans: [],
    marks: [],
    openWaits: new Map(),
    openHolds: new Map(),
    openTasks: new Map(),
    // Semaphores are often released by another thread (producer/consumer), so an
    // acquire only becomes a "holding" span once the same actor releases it.
    pendingSemaphores: new Map(),
    rlockDepth: new Map(),
  };
}

const HANDLERS = {
  actor_start(lane, event) {
    lane.kind = event.kind;
    lane.start = Math.min(lane.start, event.t_ns);
    lane.daemon = event.daemon;
    lane.parent = event.parent;
  },

  actor_end(lane, event) {
    lane.kind = lane.kind || event.kind;
    lane.end = event.t_ns;
    lane.exitCode = event.exit_code;
    for (const open of [lane.openWaits, lane.openHolds, lane.openTasks]) {
      for (const span of open.values()) span.end = event.t_ns;
      open.clear();
    }
  },

  wait(lane, event) {
    const key = `${event.primitive}:${event.obj}`;
    const span = {
      kind: event.primitive === "sleep" ? "sleeping" : "blocked",
      start: event.t_ns,
      end: null,
      primitive: event.primitive,
      obj: event.obj,
      value: event.value,
      seq: event.seq,
    };
    lane.spans.push(span);
    lane.openWaits.set(key, span);
    if (event.primitive === "barrier") addMark(lane, "barrier", event, `arrives at ${event.obj}`);
  },

  acquired(lane, event) {
    const key = `${event.primitive}:${event.obj}`;
    const waited = lane.openWaits.get(key);
    if (waited) {
      waited.end = event.t_ns;
      lane.openWaits.delete(key);
    }
    if (event.primitive === "barrier") addMark(lane, "barrier", event, `passes ${event.obj}`);
    if (HELD_PRIMITIVES.has(event.primitive)) startHolding(lane, event);
  },

  gave_up(lane, event) {
    const key = `${event.primitive}:${event.obj}`;
    const waited = lane.openWaits.get(key);
    if (waited) {
      waited.end = event.t_ns;
      waited.gaveUp = event.reason;
      lane.openWaits.delete(key);
    }
    if (event.primitive === "barrier") addMark(lane, "barrier", event, `${event.obj} broke`);
  },

  released(lane, event) {
    if (HELD_PRIMITIVES.has(event.primitive)) stopHolding(lane, event);
    if (event.primitive === "event") addMark(lane, "release", event, `sets ${event.obj}`);
    else if (event.primitive === "semaphore" || !HELD_PRIMITIVES.has(event.primitive)) {
      addMark(lane, "release", event, `releases ${event.obj}`);
    }
  },

  queue_put(lane, event) {
    addMark(lane, "queue", event, `put ${event.item} on ${event.queue}`);
  },

  queue_get(lane, event) {
    addMark(lane, "queue", event, `got ${event.item} from ${event.queue}`);
  },

  task_start(lane, event) {
    const span = { kind: "task", start: event.t_ns, end: null, pool: event.pool, task: event.task };
    lane.spans.push(span);
    lane.openTasks.set(`${event.pool}:${event.task}`, span);
  },

  task_end(lane, event) {
    const key = `${event.pool}:${event.task}`;
    const span = lane.openTasks.get(key);
    if (span) span.end = event.t_ns;
    lane.openTasks.delete(key);
  },

  output(lane, event) {
    addMark(lane, "output", event, event.line);
  },
};

function startHolding(lane, event) {
  const key = event.obj;
  if (event.primitive === "semaphore") {
    lane.pendingSemaphores.set(key, event);
    return;
  }
  if (event.primitive === "rlock") {
    lane.rlockDepth.set(key, (lane.rlockDepth.get(key) || 0) + 1);
    if (lane.openHolds.has(key)) return; // re-entered: still the same hold
  }
  const span = { kind: "holding", start: event.t_ns, end: null, primitive: event.primitive, obj: event.obj };
  lane.spans.push(span);
  lane.openHolds.set(key, span);
}

function stopHolding(lane, event) {
  const key = event.obj;
  if (event.primitive === "semaphore") {
    const acquired = lane.pendingSemaphores.get(key);
    if (!acquired) return;
    lane.pendingSemaphores.delete(key);
    lane.spans.push({ kind: "holding", start: acquired.t_ns, end: event.t_ns,
      primitive: "semaphore", obj: key });
    return;
  }
  if (event.primitive === "rlock") {
    const depth = (lane.rlockDepth.get(key) || 1) - 1;
    lane.rlockDepth.set(key, depth);
    if (depth > 0) return;
  }
  const span = lane.openHolds.get(key);
  if (span) span.end = event.t_ns;
  lane.openHolds.delete(key);
}

function addMark(lane, kind, event, text) {
  lane.marks.push({ kind, t: event.t_ns, text, event });
}
