// Building DOM without innerHTML: text from the API is always set as text.

import { term } from "./i18n.js";

function applyAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

// element.append(...) that skips what a condition left out (`cond && node` gives false).
export function fill(element, ...children) {
  append(element, children);
  return element;
}

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  applyAttributes(element, attributes);
  append(element, children);
  return element;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  applyAttributes(element, attributes);
  append(element, children);
  return element;
}

// A table in a keyboard-scrollable region (narrow screens scroll it sideways). With `stack`,
// phones show each row as a card instead, every cell labelled with its column's header.
export function table(caption, headers, rows, { id, stack = false } = {}) {
  if (stack) {
    for (const row of rows) [...row.children].forEach((cell, index) => cell.setAttribute("data-label", headers[index]));
  }
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption },
    h("table", { id, class: stack ? "stack" : null },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows)));
}

let sectionCount = 0;

export function section(title, ...children) {
  const id = `s-${++sectionCount}`; // titles are in any language: a counter names the heading
  return h("section", { class: "panel", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, term("status", status));
}
