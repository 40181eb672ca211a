// Plain SVG charts: a time-series line chart with threshold lines and a limit band, and a
// horizontal bar chart. Colours come from CSS classes; every chart has a text description.

import { h, s } from "./dom.js";
import { clock, number } from "./format.js";

const WIDTH = 560;
const MARGIN = { left: 78, right: 12, top: 14, bottom: 30 };
const TIME_STEPS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
let chartCount = 0;

function niceStep(span, count) {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw);
  return step * magnitude;
}

function ticks(min, max, count) {
  const step = niceStep(max - min || 1, count);
  const first = Math.ceil(min / step) * step;
  const values = [];
  for (let value = first; value <= max + step * 1e-9; value += step) values.push(value);
  return values;
}

function timeTicks(start, end, count) {
  const step = TIME_STEPS_S.find((one) => one * count >= end - start) ?? TIME_STEPS_S.at(-1);
  const values = [];
  for (let value = Math.ceil(start / step) * step; value <= end; value += step) values.push(value);
  return values;
}

function extent(values, padShare) {
  let min = Math.min(...values);
  let max = Math.max(...values);
  const pad = (max - min || Math.abs(max) || 1) * padShare;
  return [min - pad, max + pad];
}

function segments(points) {
  const runs = [[]];
  for (const [x, y] of points) {
    if (y === null || y === undefined || Number.isNaN(y)) runs.push([]);
    else runs.at(-1).push([x, y]);
  }
  return runs.filter((run) => run.length);
}

function legend(items) {
  return h("ul", { class: "legend" },
    items.map(({ label, cls }) => h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }), label)));
}

function frame(title, description, height, ...content) {
  const id = `chart-${++chartCount}`;
  return s("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`, role: "img", class: "chart",
    "aria-labelledby": `${id}-title ${id}-desc`, preserveAspectRatio: "xMidYMid meet",
  }, s("title", { id: `${id}-title` }, title), s("desc", { id: `${id}-desc` }, description), ...content);
}

// series: [{label, cls, points: [[seconds, value|null], ...]}]
// lines:  [{label, value, cls}]   horizontal reference lines (thresholds, limits)
// band:   {from, to, label, cls}  a shaded range of values (e.g. above a temperature limit)
// spanS: the window the title names; the time axis ends now and spans it (or the data, if older).
export function lineChart({ title, series, spanS, lines = [], band = null, yFormat = number, height = 260 }) {
  const points = series.flatMap((one) => one.points.filter(([, y]) => y !== null && y !== undefined));
  if (!points.length) return h("figure", { class: "chart-box" }, h("figcaption", {}, title), h("p", { class: "empty" }, "No data yet."));
  const xs = points.map(([x]) => x);
  const yValues = [...points.map(([, y]) => y), ...lines.map((line) => line.value)];
  const [yMin, yMax] = extent(yValues, 0.08);
  const xMax = Math.max(...xs, Date.now() / 1000);
  const xMin = Math.min(...xs, xMax - spanS);
  const plotRight = WIDTH - MARGIN.right;
  const plotBottom = height - MARGIN.bottom;
  const x = (v) => MARGIN.left + (v - xMin) / (xMax - xMin) * (plotRight - MARGIN.left);
  const y = (v) => plotBottom - (v - yMin) / (yMax - yMin) * (plotBottom - MARGIN.top);
  const clampY = (v) => y(Math.min(Math.max(v, yMin), yMax));

  const grid = ticks(yMin, yMax, 4).map((value) => s("g", { class: "tick" },
    s("line", { x1: MARGIN.left, x2: plotRight, y1: y(value), y2: y(value), class: "grid" }),
    s("text", { x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end" }, yFormat(value))));
  const timeLabels = timeTicks(xMin, xMax, 5).map((value) => s("text", {
    x: x(value), y: height - 8, "text-anchor": "middle", class: "tick" }, clock(value)));
  const bandRect = band && s("rect", {
    x: MARGIN.left, width: plotRight - MARGIN.left, class: `band ${band.cls}`,
    y: clampY(band.to ?? yMax), height: Math.max(0, clampY(band.from ?? yMin) - clampY(band.to ?? yMax)) });
  const referenceLines = lines.map((line) => s("g", { class: `reference ${line.cls}` },
    s("line", { x1: MARGIN.left, x2: plotRight, y1: y(line.value), y2: y(line.value) }),
    s("text", { x: plotRight - 4, y: y(line.value) - 4, "text-anchor": "end" }, `${line.label} ${yFormat(line.value)}`)));
  const paths = series.map((one) => s("g", { class: `series ${one.cls}` }, segments(one.points).map((run) =>
    run.length === 1
      ? s("circle", { cx: x(run[0][0]), cy: y(run[0][1]), r: 3 })
      : s("polyline", { points: run.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(" ") }))));

  const latest = series.map((one) => {
    const last = one.points.filter(([, v]) => v !== null && v !== undefined).at(-1);
    return last ? `${one.label}: ${yFormat(last[1])} at ${clock(last[0])}` : `${one.label}: no data`;
  }).join("; ");
  const description = `${latest}. ${lines.map((l) => `${l.label} at ${yFormat(l.value)}`).join(", ")}`;
  const axes = s("g", { class: "axes" },
    s("line", { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: plotBottom }),
    s("line", { x1: MARGIN.left, x2: plotRight, y1: plotBottom, y2: plotBottom }));
  return h("figure", { class: "chart-box" },
    h("figcaption", {}, title),
    frame(title, description, height, bandRect, grid, axes, referenceLines, paths, timeLabels),
    legend([...series.map(({ label, cls }) => ({ label, cls })),
      ...lines.map(({ label, cls }) => ({ label, cls })),
      ...(band ? [{ label: band.label, cls: band.cls }] : [])]));
}

// bars: [{label, value, cls}]
export function barChart({ title, bars, valueFormat = (v) => number(v, 0) }) {
  if (!bars.length) return h("figure", { class: "chart-box" }, h("figcaption", {}, title), h("p", { class: "empty" }, "Nothing to show."));
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
  const description = bars.map((bar) => `${bar.label}: ${valueFormat(bar.value)}`).join("; ");
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), frame(title, description, height, rows));
}
