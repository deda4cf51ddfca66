import { h } from "../api.js";

export function render(root) {
  root.append(h("section", { class: "card" }, h("h1", {}, "Runs"),
    h("p", { class: "muted" }, "Coming soon.")));
}
