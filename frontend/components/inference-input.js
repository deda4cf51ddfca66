// The Inference page's image input: a drop zone that is also the file picker's label,
// paste (Ctrl+V) anywhere on the page, a row of one-click samples, and a preview.
import { h } from "../api.js";
import { formatBytes } from "./inference-models.js";

const SAMPLES_DIR = "samples/";
const SMALL_IMAGE = 64; // px: smaller images are shown upscaled with pixelated rendering

export class ImageInput {
  constructor({ onImage, onError }) {
    this.onImage = onImage;
    this.onError = onError;
    this.url = null;
    this.samples = [];
    this.fileInput = h("input", {
      type: "file", id: "inference-file", class: "visually-hidden", accept: "image/*",
      onchange: () => { const [file] = this.fileInput.files; if (file) this.use(file); },
    });
    this.preview = h("div", { class: "inference-preview", id: "inference-preview", hidden: true });
    this.zone = h("label", { class: "inference-drop", for: "inference-file", id: "inference-drop" },
      this.fileInput,
      h("span", { class: "inference-drop-text" },
        h("strong", {}, "Drop an image here"), ", paste one (Ctrl+V), or ",
        h("span", { class: "button" }, "choose a file…")),
      this.preview);
    this.sampleList = h("ul", { class: "inference-samples", id: "inference-samples" });
    this.element = h("div", { class: "inference-input" },
      this.zone,
      h("h3", {}, "Or try a sample"),
      this.sampleList);

    this.listeners = {
      paste: (event) => this.paste(event),
      dragover: (event) => this.dragOver(event),
      dragleave: (event) => { if (!event.relatedTarget) this.zone.classList.remove("dragging"); },
      drop: (event) => this.drop(event),
    };
    for (const [type, listener] of Object.entries(this.listeners)) document.addEventListener(type, listener);
  }

  destroy() {
    for (const [type, listener] of Object.entries(this.listeners)) document.removeEventListener(type, listener);
    if (this.url) URL.revokeObjectURL(this.url);
  }

  // --- samples ----------------------------------------------------------------------

  async loadSamples() {
    try {
      const response = await fetch(`${SAMPLES_DIR}samples.json`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      this.samples = (await response.json()).samples || [];
    } catch {
      this.samples = [];
    }
  }

  // Samples made for this model by name, else those for its task, else all of them.
  showSamplesFor(model) {
    const byName = this.samples.filter((sample) => (sample.models || []).includes(model.name));
    const byTask = this.samples.filter((sample) => sample.task === model.task);
    const shown = byName.length ? byName : byTask.length ? byTask : this.samples;
    this.sampleList.replaceChildren(...shown.map((sample) => h("li", {},
      h("button", {
        type: "button", class: "inference-sample", "data-sample": sample.file,
        title: sample.source || sample.file, onclick: () => this.useSample(sample),
      },
      h("img", { src: SAMPLES_DIR + sample.file, alt: sample.alt || sample.title, onload: pixelateIfSmall }),
      h("span", {}, sample.title)))));
    if (!shown.length) this.sampleList.append(h("li", { class: "muted" }, "No samples available."));
  }

  async useSample(sample) {
    try {
      const response = await fetch(SAMPLES_DIR + sample.file);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const blob = await response.blob();
      this.use(new File([blob], sample.file, { type: blob.type || "image/jpeg" }), sample.alt);
    } catch (error) {
      this.onError(`Could not load the sample ${sample.file}: ${error.message}`);
    }
  }

  // --- paste and drag-and-drop ------------------------------------------------------

  paste(event) {
    const file = [...(event.clipboardData?.files || [])].find((item) => item.type.startsWith("image/"));
    if (!file) return; // text pastes keep their normal meaning
    event.preventDefault();
    const name = file.name && file.name !== "image.png" ? file.name : `pasted-image.${file.type.split("/")[1] || "png"}`;
    this.use(new File([file], name, { type: file.type }), "Pasted image");
  }

  dragOver(event) {
    if (!event.dataTransfer?.types?.includes("Files")) return;
    event.preventDefault(); // a drop anywhere on the page is ours, not a navigation
    event.dataTransfer.dropEffect = "copy";
    this.zone.classList.add("dragging");
  }

  drop(event) {
    if (!event.dataTransfer?.types?.includes("Files")) return;
    event.preventDefault();
    this.zone.classList.remove("dragging");
    const [file] = event.dataTransfer.files;
    if (file) this.use(file);
  }

  // --- the chosen image -------------------------------------------------------------

  use(file, description) {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = URL.createObjectURL(file);
    this.fileInput.value = ""; // choosing the same file again still fires "change"
    const facts = h("span", { class: "inference-preview-facts" },
      h("span", { class: "inference-file-name" }, file.name), ` · ${formatBytes(file.size)}`);
    const image = h("img", {
      src: this.url, alt: description ? `Chosen image: ${description}` : `Chosen image: ${file.name}`,
      id: "inference-preview-image",
      onload: (event) => {
        pixelateIfSmall(event);
        facts.append(` · ${event.target.naturalWidth}×${event.target.naturalHeight} px`);
      },
      onerror: () => image.replaceWith(h("span", { class: "inference-no-preview muted" },
        "No preview: the browser cannot display this file.")),
    });
    this.preview.replaceChildren(image, facts, h("span", { class: "hint" }, "Click or drop to replace."));
    this.preview.hidden = false;
    this.onImage(file, this.url);
  }
}

export function pixelateIfSmall(event) {
  const image = event.target;
  image.classList.toggle("pixelated", Math.max(image.naturalWidth, image.naturalHeight) <= SMALL_IMAGE);
}
