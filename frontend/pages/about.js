import { h } from "../api.js";

export function render(root) {
  root.append(
    h("section", { class: "card prose" },
      h("h1", {}, "About ParaLab"),
      h("p", {}, "ParaLab runs small, real concurrency programs — threads, locks, semaphores, ",
        "barriers, queues, processes and pools — each in its own subprocess, and draws what ",
        "they do live as a timeline. It also serves two neural image models trained here, a ",
        "CIFAR-10 classifier and an Oxford-IIIT Pet segmenter, from a process pool."),
      h("h2", {}, "For developers"),
      h("ul", {},
        h("li", {}, h("a", { href: "/schema" }, "API documentation"), " (Swagger UI, OpenAPI 3.1)"),
        h("li", {}, h("a", { href: "/schema/openapi.json" }, "openapi.json")),
        h("li", {}, h("a", { href: "/health/ready" }, "/health/ready"), " — readiness of every service")),
    ));
}
