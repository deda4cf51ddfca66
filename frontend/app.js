// The hash router: #/<page>/<args...> -> pages/<page>.js render(root, args).
import { startStatusIndicator } from "./components/status.js";
import { h } from "./api.js";

const PAGES = {
  lab: () => import("./pages/lab.js"),
  inference: () => import("./pages/inference.js"),
  runs: () => import("./pages/runs.js"),
  run: () => import("./pages/run.js"),
  about: () => import("./pages/about.js"),
};

let cleanup = null;

async function route() {
  const [name, ...args] = (location.hash.replace(/^#\/?/, "") || "lab").split("/");
  const root = document.getElementById("page");
  if (cleanup) { cleanup(); cleanup = null; }
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === name);
  }
  const load = PAGES[name];
  if (!load) {
    root.replaceChildren(h("section", { class: "card" }, h("h1", {}, "Not found"),
      h("p", {}, `There is no page “${name}”. `, h("a", { href: "#/lab" }, "Go to the Lab."))));
    return;
  }
  root.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  const page = await load();
  root.replaceChildren();
  cleanup = (await page.render(root, args.map(decodeURIComponent))) || null;
}

window.addEventListener("hashchange", route);
startStatusIndicator(document.getElementById("server-status"));
route();
