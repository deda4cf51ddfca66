// A parameter form generated from a scenario's JSON Schema (msgspec style, maybe with $ref).
import { h } from "../api.js";

/** Returns {element, values(), showError(apiError), clearErrors()}. */
export function parameterForm(schema, defaults = {}) {
  const root = resolve(schema, schema);
  const properties = Object.entries(root.properties || {});
  const fields = properties.map(([name, property]) =>
    parameterField(name, resolve(property, schema), defaults[name] ?? property.default));
  const message = h("p", { class: "form-error", role: "alert", hidden: true });
  const element = h("div", { class: "param-form" },
    fields.length ? fields.map((field) => field.element) : h("p", { class: "muted" }, "No parameters."),
    message);

  return {
    element,
    values() {
      const values = {};
      for (const field of fields) {
        const value = field.value();
        if (value !== undefined) values[field.name] = value;
      }
      return values;
    },
    showError(error) {
      this.clearErrors();
      message.textContent = error.message;
      message.hidden = false;
      for (const field of fields) {
        const fieldMessage = messageAbout(field.name, error.body);
        if (fieldMessage) field.showError(fieldMessage);
      }
    },
    clearErrors() {
      message.hidden = true;
      for (const field of fields) field.showError("");
    },
  };
}

function resolve(node, schema) {
  let current = node;
  for (let depth = 0; current && depth < 10; depth++) {
    if (current.$ref) current = lookup(schema, current.$ref);
    else if (current.allOf?.length === 1) current = { ...current.allOf[0], ...withoutKey(current, "allOf") };
    else if (current.anyOf) current = current.anyOf.find((option) => option.type !== "null") || current;
    else break;
  }
  return current || {};
}

function lookup(schema, ref) {
  if (!ref.startsWith("#/")) return {};
  return ref.slice(2).split("/").reduce((node, key) => node?.[key], schema) || {};
}

function withoutKey(object, key) {
  const { [key]: _, ...rest } = object;
  return rest;
}

function parameterField(name, property, initial) {
  const id = `param-${name}`;
  const input = inputFor(name, property, initial);
  const fieldError = h("span", { class: "field-error" });
  const hint = [rangeText(property), property.description].filter(Boolean).join(" · ");
  const element = h("div", { class: "field", "data-field": name },
    h("label", { for: id }, humanise(name)),
    input,
    hint ? h("span", { class: "hint" }, hint) : null,
    fieldError);
  input.id = id;

  return {
    name,
    element,
    value: () => readValue(input, property),
    showError(text) {
      fieldError.textContent = text;
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    },
  };
}

function inputFor(name, property, initial) {
  if (property.type === "boolean") {
    return h("input", { type: "checkbox", name, checked: Boolean(initial) });
  }
  if (property.enum) {
    return h("select", { name }, property.enum.map((option) =>
      h("option", { value: option, selected: option === initial }, option)));
  }
  if (property.type === "integer" || property.type === "number") {
    return h("input", {
      type: "number",
      name,
      value: initial ?? "",
      min: property.minimum ?? property.exclusiveMinimum,
      max: property.maximum ?? property.exclusiveMaximum,
      step: property.type === "integer" ? 1 : "any",
      inputmode: property.type === "integer" ? "numeric" : "decimal",
    });
  }
  if (property.type === "array") {
    // A list of numbers, typed as "1, 4, 16".
    return h("input", {
      type: "text", name, value: Array.isArray(initial) ? initial.join(", ") : "",
      placeholder: "e.g. 1, 4, 16", inputmode: "decimal",
    });
  }
  return h("input", { type: "text", name, value: initial ?? "" });
}

function readValue(input, property) {
  if (property.type === "boolean") return input.checked;
  if (input.value.trim() === "") return undefined; // the server fills in the default
  if (property.type === "integer" || property.type === "number") return Number(input.value);
  if (property.type === "array") {
    return input.value.split(/[\s,;]+/).filter(Boolean).map((part) => {
      const number = Number(part);
      return Number.isNaN(number) ? part : number; // the server explains what is wrong
    });
  }
  return input.value;
}

function rangeText(property) {
  const low = property.minimum ?? property.exclusiveMinimum;
  const high = property.maximum ?? property.exclusiveMaximum;
  if (low !== undefined && high !== undefined) return `${low} – ${high}`;
  if (low !== undefined) return `≥ ${low}`;
  if (high !== undefined) return `≤ ${high}`;
  return "";
}

function humanise(name) {
  return name.replace(/_/g, " ");
}

// Find what the error body says about one parameter: msgspec paths look like `$.params.seed`
// or `$.seed`; Litestar's extra is a list of {key, message}.
function messageAbout(name, body) {
  if (!body) return "";
  const items = Array.isArray(body.extra) ? body.extra : body.extra ? [body.extra] : [];
  for (const item of items) {
    const key = String(item?.key ?? item?.field ?? item?.loc ?? "");
    if (key === name || key.endsWith(`.${name}`)) return String(item.message ?? item.msg ?? body.detail);
  }
  const path = new RegExp(`\\$(?:\\.params)?\\.${name}\\b`);
  return path.test(body.detail || "") ? body.detail : "";
}
