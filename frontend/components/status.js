// Server-status indicator fed by GET /health/ready.
import { api, ApiError } from "../api.js";

const POLL_MS = 3000;

export function startStatusIndicator(element) {
  const label = element.querySelector(".label");
  const show = (state, text, title) => {
    element.dataset.state = state;
    label.textContent = text;
    element.title = title;
  };
  async function poll() {
    try {
      const report = await api("/health/ready");
      show("ready", "ready", describe(report));
    } catch (error) {
      if (error instanceof ApiError && error.body?.checks) {
        show("not-ready", "not ready", describe(error.body));
      } else {
        show("down", "offline", String(error.message || error));
      }
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
}

function describe(report) {
  return Object.entries(report.checks)
    .map(([name, check]) => `${check.ready ? "✓" : "✗"} ${name}${check.detail ? `: ${check.detail}` : ""}`)
    .join("\n");
}
