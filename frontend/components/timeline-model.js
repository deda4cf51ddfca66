// Turns the run's event stream into per-actor lanes of spans and marks, incrementally.
//
// The rules are those of backend/paralab/runs/spans.py (read its docstring); one golden
// file, tests/golden/span-rules.json, checks both. An actor is one thread (pid, tid, actor);
// lanes are by actor name.
//
// A span has {kind, start, end, pid, tid, ...}; end === null while it is open, and for good
// when its closing event never came (unfinished). Kinds: "running", "blocked", "sleeping",
// "holding" (a lock, rlock or semaphore) and "task". Marks {kind, t, text, event} are
// instants: "barrier", "signal", "queue" and "output".

const NOT_ON_A_LANE = new Set(["run", "metric", "progress"]);

export class TimelineModel {
  constructor() {
    this.lanes = new Map();
    this.actors = new Map(); // what each thread has open, by `${pid}/${tid}/${actor}`
    this.locks = new Map(); // the open hold of each lock and rlock, by `${pid}/${primitive}/${obj}`
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
    if (handler) handler(this, lane, event);
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

  actorFor(event) {
    const key = actorKey(event);
    let actor = this.actors.get(key);
    if (!actor) {
      // semaphores: the latest unpaired acquire's mark, by semaphore.
      actor = { key, running: null, waits: new Map(), tasks: new Map(), semaphores: new Map() };
      this.actors.set(key, actor);
    }
    return actor;
  }
}

function newLane(actor, t, index) {
  return { actor, index, kind: "", pid: null, start: t, end: null, exitCode: null, spans: [], marks: [] };
}

const actorKey = (event) => `${event.pid}/${event.tid}/${event.actor}`;
const lockKey = (event) => `${event.pid}/${event.primitive}/${event.obj}`;
const waitKey = (event) => `${event.primitive}/${event.obj}`;

const HANDLERS = {
  actor_start(model, lane, event) {
    lane.kind = event.kind;
    lane.start = Math.min(lane.start, event.t_ns);
    lane.end = null;
    lane.daemon = event.daemon;
    lane.parent = event.parent;
    // A running span still open (a second start) is left unfinished.
    model.actorFor(event).running = openSpan(lane, event, "running");
  },

  actor_end(model, lane, event) {
    lane.kind = lane.kind || event.kind;
    lane.end = event.t_ns;
    lane.exitCode = event.exit_code;
    // The actor can close nothing more: its open waits and tasks stay unfinished, its
    // unpaired semaphore acquires stay signals.
    const actor = model.actors.get(actorKey(event));
    model.actors.delete(actorKey(event));
    if (actor?.running) {
      actor.running.end = event.t_ns;
      actor.running.exitCode = event.exit_code;
    }
  },

  wait(model, lane, event) {
    const kind = event.primitive === "sleep" ? "sleeping" : "blocked";
    const span = openSpan(lane, event, kind, { primitive: event.primitive, obj: event.obj, value: event.value });
    model.actorFor(event).waits.set(waitKey(event), span);
    if (event.primitive === "barrier") addMark(lane, "barrier", event, `arrive barrier ${event.obj}`);
  },

  acquired(model, lane, event) {
    const actor = model.actorFor(event);
    endWait(actor, event);
    if (event.primitive === "barrier") addMark(lane, "barrier", event, `pass barrier ${event.obj}`);
    else if (event.primitive === "lock" || event.primitive === "rlock") hold(model, lane, actor, event);
    else if (event.primitive === "semaphore") {
      // Shown as a signal now; becomes a hold if this actor releases it before acquiring it again.
      actor.semaphores.set(event.obj, addMark(lane, "signal", event, `acquire semaphore ${event.obj}`));
    }
  },

  gave_up(model, lane, event) {
    endWait(model.actorFor(event), event, event.reason);
    if (event.primitive === "barrier") addMark(lane, "barrier", event, `barrier ${event.obj} broke`);
  },

  released(model, lane, event) {
    if (event.primitive === "lock" || event.primitive === "rlock") release(model, lane, event);
    else if (event.primitive === "semaphore") {
      const actor = model.actors.get(actorKey(event));
      const acquired = actor?.semaphores.get(event.obj);
      if (acquired) {
        actor.semaphores.delete(event.obj);
        removeMark(lane, acquired);
        const span = openSpan(lane, acquired.event, "holding", { primitive: "semaphore", obj: event.obj });
        span.end = event.t_ns;
      } else addMark(lane, "signal", event, `release semaphore ${event.obj}`);
    } else if (event.primitive === "event") addMark(lane, "signal", event, `set event ${event.obj}`);
    else addMark(lane, "signal", event, `release ${event.primitive} ${event.obj}`);
  },

  queue_put(model, lane, event) {
    addMark(lane, "queue", event, `put ${event.item} on ${event.queue}`);
  },

  queue_get(model, lane, event) {
    addMark(lane, "queue", event, `get ${event.item} from ${event.queue}`);
  },

  task_start(model, lane, event) {
    const span = openSpan(lane, event, "task", { pool: event.pool, task: event.task });
    model.actorFor(event).tasks.set(`${event.pool}/${event.task}`, span);
  },

  task_end(model, lane, event) {
    const tasks = model.actorFor(event).tasks;
    const key = `${event.pool}/${event.task}`;
    const span = tasks.get(key);
    if (span) span.end = event.t_ns;
    tasks.delete(key);
  },

  output(model, lane, event) {
    addMark(lane, "output", event, event.line);
  },
};

function openSpan(lane, event, kind, details = {}) {
  const span = { kind, start: event.t_ns, end: null, pid: event.pid, tid: event.tid, ...details };
  lane.spans.push(span);
  return span;
}

function endWait(actor, event, gaveUp) {
  const key = waitKey(event);
  const span = actor.waits.get(key);
  if (!span) return;
  span.end = event.t_ns;
  if (gaveUp) span.gaveUp = gaveUp;
  actor.waits.delete(key);
}

// A lock has one holder at a time, so the holds of one lock never overlap.
function hold(model, lane, actor, event) {
  const held = model.locks.get(lockKey(event));
  if (held) {
    if (held.actor === actor.key) return; // an rlock re-entered: still the same hold
    held.span.end = event.t_ns;
  }
  const span = openSpan(lane, event, "holding", { primitive: event.primitive, obj: event.obj });
  model.locks.set(lockKey(event), { actor: actor.key, span });
}

// Any thread may release a Lock; an RLock only its owner, back to depth 0.
function release(model, lane, event) {
  const held = model.locks.get(lockKey(event));
  const mine = held !== undefined && held.actor === actorKey(event);
  if (held && (event.primitive === "lock" || (mine && !event.value))) {
    held.span.end = event.t_ns;
    model.locks.delete(lockKey(event));
  }
  if (!mine) addMark(lane, "signal", event, `release ${event.primitive} ${event.obj}`);
}

function addMark(lane, kind, event, text) {
  const mark = { kind, t: event.t_ns, text, event };
  lane.marks.push(mark);
  return mark;
}

function removeMark(lane, mark) {
  const index = lane.marks.lastIndexOf(mark);
  if (index >= 0) lane.marks.splice(index, 1);
}
