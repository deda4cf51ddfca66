// Turns the run's event stream into per-actor lanes of spans and marks, incrementally.
//
// The rules are those of backend/paralab/runs/spans.py (read its docstring); one golden
// file, tests/golden/span-rules.json, checks both. An actor is one thread (pid, tid, actor);
// lanes are by process and actor name (pid + actor), so the "Thread-1" of two processes is
// two lanes, while two threads of one name in turn in one process share a lane.
//
// A span has {kind, start, end, pid, tid, ...}; end === null while it is open, and for good
// when its closing event never came (unfinished). Kinds: "running", "starting" (a process's
// start-up, from its spawn to its own actor_start, with startMethod), "blocked", "sleeping",
// "holding" (a lock, rlock or semaphore) and "task". A running or starting span its process
// took down with it has exitCode and killedBy. Marks {kind, t, text, event} are instants:
// "barrier", "signal", "queue", "output", "process" (start, stop, exit) and "shm".
//
// `processes` (by pid) describes each process for the view: name, parent, daemon, start
// method, start and end, the last stop sent, exit code, and what killed it; `processList`
// orders them parent first.

const NOT_ON_A_LANE = new Set(["run", "metric", "progress", "artifact"]);

// The same table as spans.py's SIGNAL_NAMES.
const SIGNAL_NAMES = { 1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM" };
const STOP_TEXTS = {
  terminate: (child) => `terminate ${child}`,
  kill: (child) => `kill ${child}`,
  parent_exit: (child) => `parent exit kills daemon ${child}`,
};

export const signalName = (number) => SIGNAL_NAMES[number] ?? `signal ${number}`;

export class TimelineModel {
  constructor() {
    this.lanes = new Map(); // by `${pid}/${actor}`
    this.processes = new Map(); // by pid
    this.actors = new Map(); // what each thread has open, by `${pid}/${tid}/${actor}`
    this.locks = new Map(); // the open hold of each lock and rlock, by `${pid}/${primitive}/${obj}`
    // By child pid: the starting span still open, a child started before its spawn arrived,
    // and the reason of the last stop sent.
    this.starting = new Map();
    this.unspawned = new Map();
    this.stops = new Map();
    this.firstT = Infinity;
    this.lastT = 0;
  }

  get laneList() {
    return [...this.lanes.values()];
  }

  /** Depth first: each parent before its children, siblings in the order they were started. */
  get processList() {
    const started = (p) => p.spawnT ?? p.startT ?? p.firstT;
    const all = [...this.processes.values()].sort((a, b) => started(a) - started(b) || a.index - b.index);
    const children = new Map();
    for (const process of all) {
      const parent = this.processes.has(process.parentPid) ? process.parentPid : null;
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(process);
    }
    const order = [];
    const visit = (process) => {
      if (order.includes(process)) return;
      order.push(process);
      for (const child of children.get(process.pid) ?? []) visit(child);
    };
    for (const root of children.get(null) ?? []) visit(root);
    for (const process of all) visit(process); // a cycle of reused pids: still listed
    return order;
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
    return this.laneAt(event.pid, event.actor, event.t_ns);
  }

  laneAt(pid, actor, t) {
    const key = laneKey(pid, actor);
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = newLane(key, actor, pid, t, this.lanes.size);
      this.lanes.set(key, lane);
      this.processFor(pid, t).lanes.push(lane);
    }
    return lane;
  }

  actorFor(event) {
    const key = actorKey(event);
    let actor = this.actors.get(key);
    if (!actor) {
      // semaphores: the latest unpaired acquire's mark, by semaphore.
      actor = { key, pid: event.pid, name: event.actor, running: null, waits: new Map(), tasks: new Map(),
        semaphores: new Map() };
      this.actors.set(key, actor);
    }
    return actor;
  }

  processFor(pid, t = this.lastT) {
    let process = this.processes.get(pid);
    if (!process) {
      process = { pid, index: this.processes.size, firstT: t, name: "", main: false, mainActor: "",
        parent: "", parentPid: null, daemon: false, startMethod: "", spawnT: null, startT: null,
        end: null, exitCode: null, stopping: null, stopReason: null, stopT: null, stopSignal: "", killedBy: null,
        lanes: [] };
      this.processes.set(pid, process);
    }
    return process;
  }
}

function newLane(key, actor, pid, t, index) {
  return { key, actor, pid, index, kind: "", start: t, end: null, exitCode: null, killedBy: null,
    spans: [], marks: [] };
}

const laneKey = (pid, actor) => `${pid}/${actor}`;
const actorKey = (event) => `${event.pid}/${event.tid}/${event.actor}`;
const lockKey = (event) => `${event.pid}/${event.primitive}/${event.obj}`;
const waitKey = (event) => `${event.primitive}/${event.obj}`;

const HANDLERS = {
  actor_start(model, lane, event) {
    lane.kind = event.kind;
    lane.start = Math.min(lane.start, event.t_ns);
    lane.end = null;
    lane.killedBy = null;
    lane.daemon = event.daemon;
    lane.parent = event.parent;
    // A running span still open (a second start) is left unfinished.
    const running = openSpan(lane, event, "running");
    model.actorFor(event).running = running;
    if (model.stops.has(event.pid)) running.killedBy = model.stops.get(event.pid);
    if (event.kind === "main") Object.assign(model.processFor(event.pid), { main: true, mainActor: event.actor });
    if (event.kind === "process") processStarted(model, event);
  },

  actor_end(model, lane, event) {
    lane.kind = lane.kind || event.kind;
    lane.end = event.t_ns;
    lane.exitCode = event.exit_code;
    lane.killedBy = null;
    // The actor can close nothing more: its open waits and tasks stay unfinished, its
    // unpaired semaphore acquires stay signals.
    const actor = model.actors.get(actorKey(event));
    model.actors.delete(actorKey(event));
    if (actor?.running) {
      actor.running.end = event.t_ns;
      actor.running.exitCode = event.exit_code;
      delete actor.running.killedBy; // its code finished after all
    }
    if (event.kind === "main" || event.kind === "process") {
      const process = model.processFor(event.pid);
      process.end = event.t_ns;
      process.exitCode = event.exit_code;
    }
  },

  process_spawn(model, lane, event) {
    addMark(lane, "process", event, `start ${event.child} (${event.start_method})`);
    const pid = event.child_pid;
    const childLane = model.laneAt(pid, event.child, event.t_ns);
    childLane.kind = childLane.kind || "process";
    childLane.start = Math.min(childLane.start, event.t_ns);
    const span = openSpan(childLane, { t_ns: event.t_ns, pid, tid: pid }, "starting",
      { startMethod: event.start_method });
    const child = model.processFor(pid);
    Object.assign(child, { name: child.name || event.child, parentPid: event.pid, daemon: event.daemon,
      startMethod: event.start_method, spawnT: event.t_ns });
    learnParentName(model, child);
    const started = model.unspawned.get(pid);
    if (started) {
      span.end = started.t_ns;
      span.tid = started.tid;
      model.unspawned.delete(pid);
      return;
    }
    // A start still open (the pid spawned again) is left unfinished.
    if (model.stops.has(pid)) span.killedBy = model.stops.get(pid);
    model.starting.set(pid, { span, lane: childLane });
  },

  process_stop(model, lane, event) {
    addMark(lane, "process", event, STOP_TEXTS[event.reason](event.child));
    const pid = event.child_pid;
    model.stops.set(pid, event.reason);
    Object.assign(model.processFor(pid), { stopping: event.reason, stopReason: event.reason,
      stopT: event.t_ns, stopSignal: event.signal });
    for (const actor of model.actors.values()) {
      if (actor.pid === pid && actor.running) actor.running.killedBy = event.reason;
    }
    const starting = model.starting.get(pid);
    if (starting) starting.span.killedBy = event.reason;
  },

  // Whatever of that process is still open ended with it.
  process_exit(model, lane, event) {
    addMark(lane, "process", event, exitText(event));
    const { child_pid: pid, exit_code: code, t_ns: t } = event;
    const killedBy = model.stops.get(pid) ?? (code < 0 ? signalName(-code) : null);
    model.stops.delete(pid);
    const ended = (span, endedLane) => {
      span.end = t;
      span.exitCode = code;
      if (killedBy) span.killedBy = killedBy;
      else delete span.killedBy;
      if (endedLane) Object.assign(endedLane, { end: t, exitCode: code, killedBy });
    };
    const starting = model.starting.get(pid);
    if (starting) ended(starting.span, starting.lane);
    model.starting.delete(pid);
    model.unspawned.delete(pid);
    for (const [key, actor] of model.actors) {
      if (actor.pid !== pid) continue;
      model.actors.delete(key);
      const actorLane = model.lanes.get(laneKey(pid, actor.name));
      if (actor.running) ended(actor.running, actorLane);
    }
    for (const [key, held] of model.locks) if (held.span.pid === pid) model.locks.delete(key);
    const process = model.processFor(pid);
    Object.assign(process, { end: process.end ?? t, exitCode: code, killedBy, stopping: null });
  },

  shm(model, lane, event) {
    addMark(lane, "shm", event, `${event.op} ${event.segment} ${event.array || `${event.size} bytes`}`);
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

// The child's code runs: its start-up is over (whichever of spawn and start came first).
function processStarted(model, event) {
  const process = model.processFor(event.pid);
  Object.assign(process, { name: event.actor, parent: event.parent, daemon: event.daemon,
    startMethod: process.startMethod || event.start_method, startT: event.t_ns, end: null });
  learnParentName(model, process);
  const starting = model.starting.get(event.pid);
  if (!starting) {
    model.unspawned.set(event.pid, event);
    return;
  }
  starting.span.end = event.t_ns;
  starting.span.tid = event.tid;
  delete starting.span.killedBy;
  model.starting.delete(event.pid);
}

// The run's main process names itself nowhere; its children's `parent` does.
function learnParentName(model, child) {
  const parent = model.processes.get(child.parentPid);
  if (parent && !parent.name && child.parent) parent.name = child.parent;
}

function exitText(event) {
  const code = event.exit_code;
  if (code < 0) return `${event.child} killed by ${signalName(-code)} (${code})`;
  return `${event.child} exited ${code}`;
}

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
