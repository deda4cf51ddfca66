// The Inference page's results: top-k bars for a classification; for a segmentation, the
// photo under the server's overlay with an opacity slider, a legend and the raw mask.
import { h } from "../api.js";
import { pixelateIfSmall } from "./inference-input.js";

// The overlay palette, used when a response does not carry its own `palette`.
const PALETTE = { pet: [255, 64, 64], background: [40, 90, 200], border: [255, 210, 0] };
const FALLBACK = [[230, 57, 70], [42, 157, 143], [233, 196, 106], [106, 76, 147], [58, 134, 255]];
const MIN_DISPLAY = 256; // px: small images are scaled up to at least this width

// --- classification -----------------------------------------------------------------

export function classificationView(result) {
  const scores = result.scores || [];
  return h("div", { class: "inference-classification", "data-task": "classification" },
    h("p", { class: "inference-top" }, h("span", { class: "muted" }, "Prediction: "),
      h("strong", { id: "inference-label", class: "inference-label" }, result.label)),
    h("ol", { class: "inference-bars", "aria-label": `Top ${scores.length} classes` },
      scores.map(({ label, score }) => {
        const percent = flooredPercent(score);
        return h("li", { class: "inference-bar", "data-label": label, title: `${label}: ${score}` },
          h("span", { class: "inference-bar-label" }, label),
          h("span", { class: "inference-bar-track", "aria-hidden": "true" },
            h("span", { class: "inference-bar-fill", style: `width: ${Math.min(100, Math.max(0, score * 100))}%` })),
          h("span", { class: "inference-pct" }, `${percent}%`));
      })));
}

// Rounded down to 0.1 % so that the shown percentages never add up to more than 100.
function flooredPercent(score) {
  return (Math.floor(score * 1000 + 1e-6) / 10).toFixed(1);
}

// --- segmentation -------------------------------------------------------------------

export function segmentationView(result, photoUrl, fileName) {
  const stem = (fileName || "image").replace(/\.[^.]+$/, "");
  const overlaySrc = `data:image/png;base64,${result.overlay_png}`;
  const maskSrc = `data:image/png;base64,${result.mask_png}`;
  // The box takes its shape from the answer, not from the photo: a format the browser
  // cannot draw (TIFF) must not collapse it. Small images are scaled up to MIN_DISPLAY.
  const scale = Math.max(1, MIN_DISPLAY / Math.max(result.width, result.height));
  const width = Math.round(result.width * scale);
  const pixelated = Math.max(result.width, result.height) <= 64;

  const overlay = h("img", {
    src: overlaySrc, id: "inference-overlay", class: pixelated ? "inference-layer pixelated" : "inference-layer",
    alt: `Segmentation overlay: ${describeFractions(result)}`,
  });
  const caption = h("figcaption", { class: "muted small" },
    `${result.width}×${result.height} px, mask at the image's size`);
  const photo = h("img", {
    src: photoUrl, class: "inference-photo", alt: "The uploaded photo", onload: pixelateIfSmall,
    onerror: () => {
      photo.hidden = true;
      slider.value = "100";
      setOpacity();
      caption.append(" · this browser cannot show the photo's format: the overlay includes it");
    },
  });
  const stack = h("div", {
    class: "inference-stack",
    style: `width: ${width}px; aspect-ratio: ${result.width} / ${result.height}`,
  }, photo, overlay);
  const output = h("output", { for: "inference-opacity", id: "inference-opacity-value" });
  const slider = h("input", {
    type: "range", id: "inference-opacity", min: 0, max: 100, step: 1, value: 80,
    oninput: () => setOpacity(),
  });
  function setOpacity() {
    overlay.style.opacity = String(Number(slider.value) / 100);
    output.textContent = `${slider.value}%`;
  }
  setOpacity();

  let colouredMask = null;
  const maskToggle = h("input", {
    type: "checkbox", id: "inference-show-mask",
    onchange: async () => {
      if (maskToggle.checked) {
        colouredMask ||= await colourMask(maskSrc, result.classes, result.palette);
        overlay.src = colouredMask;
        overlay.alt = `Segmentation mask in class colours: ${describeFractions(result)}`;
      } else {
        overlay.src = overlaySrc;
        overlay.alt = `Segmentation overlay: ${describeFractions(result)}`;
      }
    },
  });

  return h("div", { class: "inference-segmentation", "data-task": "segmentation" },
    h("figure", { class: "inference-figure" }, stack, caption),
    h("div", { class: "inference-controls" },
      h("div", { class: "field inference-opacity-field" },
        h("label", { for: "inference-opacity" }, "Overlay opacity ", output), slider),
      h("ul", { class: "inference-legend", id: "inference-legend", "aria-label": "Classes and their share of the image" },
        result.classes.map((name, index) => h("li", { "data-class": name },
          h("span", { class: "inference-swatch", style: `background: ${rgb(colourOf(name, index, result.palette))}` }),
          h("span", { class: "inference-legend-name" }, name),
          h("span", { class: "inference-fraction num" }, `${percent(result.class_fractions?.[name])}`)))),
      h("div", { class: "inference-mask-actions" },
        h("label", { class: "inference-check" }, maskToggle, " Show the mask in class colours"),
        h("a", {
          class: "button", id: "inference-mask-download", href: maskSrc, download: `${stem}-mask.png`,
          title: "Greyscale PNG at the image's size; each pixel is a class index",
        }, "Download raw mask"),
        h("p", { class: "hint" }, "Raw mask: PNG, one byte per pixel = index into ",
          h("code", {}, JSON.stringify(result.classes)), "."))));
}

function colourOf(name, index, palette = PALETTE) {
  return palette[name] || PALETTE[name] || FALLBACK[index % FALLBACK.length];
}

function rgb([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}

function percent(fraction) {
  return typeof fraction === "number" ? `${(fraction * 100).toFixed(1)}%` : "—";
}

function describeFractions(result) {
  return result.classes.map((name) => `${name} ${percent(result.class_fractions?.[name])}`).join(", ");
}

// The mask's class indices painted in the palette, as a PNG data URL.
async function colourMask(maskSrc, classes, palette) {
  const image = new Image();
  image.src = maskSrc;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const colours = classes.map((name, index) => colourOf(name, index, palette));
  const data = pixels.data;
  for (let offset = 0; offset < data.length; offset += 4) {
    const colour = colours[data[offset]] || [0, 0, 0];
    data[offset] = colour[0];
    data[offset + 1] = colour[1];
    data[offset + 2] = colour[2];
    data[offset + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
  return canvas.toDataURL("image/png");
}
