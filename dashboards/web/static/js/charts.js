// Plain SVG bar charts (time series are in timeseries.js). Colours come from CSS classes;
// every chart has a text description.

import { h, s } from "./dom.js";
import { number } from "./format.js";
import { t } from "./i18n.js";

const WIDTH = 560;
let chartCount = 0;

function frame(title, description, height, ...content) {
  const id = `chart-${++chartCount}`;
  return s("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`, role: "img", class: "chart",
    "aria-labelledby": `${id}-title ${id}-desc`, preserveAspectRatio: "xMidYMid meet",
  }, s("title", { id: `${id}-title` }, title), s("desc", { id: `${id}-desc` }, description), ...content);
}

// bars: [{label, value, cls}]
export function barChart({ title, bars, valueFormat = (v) => number(v, 0) }) {
  if (!bars.length) return h("figure", { class: "chart-box" }, h("figcaption", {}, title), h("p", { class: "empty" }, t("chart.nothing")));
  const rowHeight = 30;
  const labelWidth = 190;
  const valueWidth = 70;
  const height = bars.length * rowHeight + 8;
  const largest = Math.max(...bars.map((bar) => bar.value), 1);
  const scale = (WIDTH - labelWidth - valueWidth) / largest;
  const rows = bars.map((bar, index) => {
    const top = 4 + index * rowHeight;
    return s("g", { class: `bar ${bar.cls ?? ""}` },
      s("text", { x: labelWidth - 8, y: top + 19, "text-anchor": "end" }, bar.label),
      s("rect", { x: labelWidth, y: top + 4, height: rowHeight - 10, width: Math.max(bar.value * scale, bar.value ? 2 : 0) }),
      s("text", { x: labelWidth + bar.value * scale + 6, y: top + 19, class: "value" }, valueFormat(bar.value)));
  });
  const description = bars.map((bar) => t("chart.bar", { label: bar.label, value: valueFormat(bar.value) })).join(t("list.semicolon"));
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), frame(title, description, height, rows));
}
