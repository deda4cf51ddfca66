// The run's output console: one row per line with time, actor and stream (stderr in red).
import { h } from "../api.js";

export class OutputConsole {
  constructor() {
    this.count = 0;
    this.empty = h("div", { class: "console-empty muted" }, "No output yet.");
    this.element = h("div", { id: "console", class: "console", role: "log", "aria-live": "off" }, this.empty);
  }

  append(outputs) {
    if (!outputs.length) return;
    // Follow the tail only if the reader has not scrolled up to read something.
    const atBottom = this.element.scrollHeight - this.element.scrollTop - this.element.clientHeight < 24;
    const rows = outputs.map((output) =>
      h("div", { class: "console-line", "data-stream": output.stream || "stdout", "data-seq": output.seq },
        h("span", { class: "console-time" }, `${(output.t_ns / 1e6).toFixed(1)} ms`),
        h("span", { class: "console-actor", title: output.actor }, output.actor),
        h("span", { class: "console-text" }, output.line)));
    this.empty.remove();
    this.element.append(...rows);
    this.count += rows.length;
    if (atBottom) this.element.scrollTop = this.element.scrollHeight;
  }
}
