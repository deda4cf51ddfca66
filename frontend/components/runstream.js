// Follows a run's event stream over /ws/runs/{id}: replay, then live, then "end".
// Reconnects after unexpected closes from the last seen seq + 1, and drops anything
// already seen, so the consumer gets every event exactly once and in order.

const PING_MS = 20_000;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5_000;
const NOT_FOUND = 4404;

export class RunStream {
  /**
   * handlers: onEvents(events), onEnd({status, last_seq}), onNotFound(),
   * onConnection(state) with state "connecting" | "live" | "reconnecting" | "ended".
   */
  constructor(runId, handlers) {
    this.runId = runId;
    this.handlers = handlers;
    this.lastSeq = 0;
    this.ended = false;
    this.stopped = false;
    this.retryMs = RETRY_FIRST_MS;
    this.socket = null;
    this.retryTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.connect();
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_MS);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.socket) this.socket.close(1000);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/runs/${encodeURIComponent(this.runId)}?from_seq=${this.lastSeq + 1}`;
    this.notify("connecting");
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => this.notify("live"));
    socket.addEventListener("message", (message) => this.receive(JSON.parse(message.data)));
    socket.addEventListener("close", (close) => this.closed(socket, close));
  }

  receive(message) {
    this.retryMs = RETRY_FIRST_MS;
    if (message.type === "events") {
      const fresh = message.events.filter((event) => event.seq > this.lastSeq);
      if (!fresh.length) return;
      this.lastSeq = fresh[fresh.length - 1].seq;
      this.handlers.onEvents?.(fresh);
    } else if (message.type === "end" && message.going_away) {
      // The server is stopping: the close that follows reconnects, with backoff, from
      // the last event seen, once a server is back.
      this.notify("reconnecting");
    } else if (message.type === "end") {
      this.ended = true;
      this.notify("ended");
      this.handlers.onEnd?.(message);
    }
  }

  closed(socket, close) {
    if (socket !== this.socket || this.stopped || this.ended) return;
    if (close.code === NOT_FOUND) {
      this.ended = true;
      this.handlers.onNotFound?.();
      return;
    }
    this.notify("reconnecting");
    this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  notify(state) {
    this.handlers.onConnection?.(state);
  }
}
