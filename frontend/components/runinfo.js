// Small shared views of a Run: its status badge, times and durations.
import { h } from "../api.js";

export const RUN_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "timed_out"];
export const FINAL_STATUSES = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

export function isFinal(status) {
  return FINAL_STATUSES.has(status);
}

export function statusBadge(status) {
  return h("span", { class: "badge", "data-status": status || "unknown" }, statusLabel(status));
}

export function updateStatusBadge(badge, status) {
  badge.dataset.status = status;
  badge.textContent = statusLabel(status);
}

function statusLabel(status) {
  return (status || "unknown").replace("_", " ");
}

// The store keeps Unix seconds; ISO strings are accepted too.
export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  return new Date(typeof value === "number" ? value * 1000 : value);
}

export function formatDateTime(value) {
  const date = toDate(value);
  return date ? date.toLocaleString() : "—";
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(2)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function runDuration(run) {
  if (run.duration_s !== null && run.duration_s !== undefined) return run.duration_s;
  const started = toDate(run.started_at);
  const finished = toDate(run.finished_at);
  return started && finished ? (finished - started) / 1000 : null;
}
