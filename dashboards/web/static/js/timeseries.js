// Time-series charts on uPlot (vendored under static/vendor/uplot, MIT): the legend follows the
// cursor (the values at that moment), dragging across zooms in, a double click goes back to the
// whole window. Threshold lines and a limit band are drawn on the canvas and also listed as text
// (screen readers, tests); a range picker changes the window a view asks the API for.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { h } from "./dom.js";
import { clock, dateTime, dayClock, number } from "./format.js";
import { t } from "./i18n.js";

const HEIGHT = 260;
const COLORS = {
  "s-ltv": "#0b57d0", "s-price": "#0b57d0", "s-observed": "#0b57d0", "s-value": "#1b6b35",
  "s-pledged": "#6b7385", "s-temperature": "#7d3cb5", "l-target": "#1b6b35", "l-outstanding": "#3b3f4a",
  "l-warning": "#8a5200", "l-margin": "#b7410e", "l-liquidation": "#a3161b", "b-danger": "#d92d20",
};
const DASHED = new Set(["s-pledged"]);
export const RANGES_S = [3600, 6 * 3600, 24 * 3600, 7 * 86400];

// "last 6 hours" (chart titles name the window they span)
export function lastSpan(seconds) {
  if (seconds % 86400 === 0 && seconds > 86400) return t("range.last_days", { count: seconds / 86400 });
  return seconds === 3600 ? t("range.last_hour") : t("range.last_hours", { count: seconds / 3600 });
}

// The window a view shows: `?range=` (seconds, one of RANGES_S) or the view's default.
export function rangeOf(query, defaultS) {
  const asked = Number(query?.get("range"));
  return RANGES_S.includes(asked) ? asked : defaultS;
}

export function rangePicker(currentS) {
  const choose = (event) => {
    const [path, search = ""] = location.hash.split("?");
    const query = new URLSearchParams(search);
    query.set("range", event.currentTarget.value);
    location.hash = `${path}?${query}`;
  };
  return h("label", { class: "range-picker" }, t("range.label"), " ",
    h("select", { name: "range", onchange: choose },
      RANGES_S.map((seconds) => h("option", { value: seconds, selected: seconds === currentS }, lastSpan(seconds)))));
}

// One x column for every series (they may be sampled at different moments).
function aligned(series) {
  const xs = [...new Set(series.flatMap((one) => one.points.map(([x]) => x)))].sort((a, b) => a - b);
  return [xs, ...series.map((one) => {
    const byX = new Map(one.points);
    return xs.map((x) => byX.get(x) ?? null);
  })];
}

function valueRange(data, lines, band) {
  const values = [...data.slice(1).flat(), ...lines.map((line) => line.value),
    ...(band ? [band.from, band.to] : [])].filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const min = Math.min(...values);
  const max = Math.max(...values);
  const pad = (max - min || Math.abs(max) || 1) * 0.08;
  return [min - pad, max + pad];
}

function drawBand(band) {
  return (u) => {
    if (!band) return;
    const { ctx, bbox } = u;
    const top = u.valToPos(band.to ?? u.scales.y.max, "y", true);
    const bottom = u.valToPos(band.from ?? u.scales.y.min, "y", true);
    ctx.save();
    ctx.fillStyle = `${COLORS[band.cls]}2e`;
    ctx.fillRect(bbox.left, Math.min(top, bottom), bbox.width, Math.abs(bottom - top));
    ctx.restore();
  };
}

function drawLines(lines, yFormat) {
  return (u) => {
    const { ctx, bbox } = u;
    const ratio = devicePixelRatio;
    ctx.save();
    ctx.lineWidth = 1.5 * ratio;
    ctx.setLineDash([6 * ratio, 4 * ratio]);
    ctx.font = `600 ${12 * ratio}px system-ui, sans-serif`;
    ctx.textAlign = "right";
    for (const line of lines) {
      const y = u.valToPos(line.value, "y", true);
      ctx.strokeStyle = ctx.fillStyle = COLORS[line.cls];
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      ctx.fillText(t("chart.line", { label: line.label, value: yFormat(line.value) }), bbox.left + bbox.width - 4 * ratio, y - 4 * ratio);
    }
    ctx.restore();
  };
}

function describe(series, lines, yFormat) {
  const latest = series.map((one) => {
    const last = one.points.filter(([, v]) => v !== null && v !== undefined).at(-1);
    return last ? t("chart.latest", { label: one.label, value: yFormat(last[1]), time: clock(last[0]) })
      : t("chart.no_data_for", { label: one.label });
  }).join(t("list.semicolon"));
  const marks = lines.map((line) => t("chart.line_at", { label: line.label, value: yFormat(line.value) }));
  return t("chart.description", { latest, lines: marks.join(t("list.comma")) });
}

function references(lines, band, yFormat) {
  const item = (cls, text) => {
    const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = COLORS[cls];
    return h("li", { class: `reference ${cls}` }, swatch, text);
  };
  return h("ul", { class: "legend references" },
    lines.map((line) => item(line.cls, t("chart.line", { label: line.label, value: yFormat(line.value) }))),
    band && item(band.cls, band.label));
}

// Time-axis ticks in the chosen locale on a 24-hour clock (uPlot's own are English, am/pm).
function timeTicks(u, splits) {
  const spanS = u.scales.x.max - u.scales.x.min;
  return splits.map((v) => (spanS > 86400 ? dayClock(v) : clock(v)));
}

const zooms = new Map(); // chart key → [from, to] (seconds) the user dragged across
const newest = new Map(); // chart key → the chart now on screen under that key
let pointer = null; // where the mouse rests on the page ({x, y}, client px), if on it

// A live refresh replaces the chart under a resting pointer, which moves no more: the new
// chart puts its cursor (and so its legend's values) under the pointer.
document.addEventListener("mousemove", (event) => { pointer = { x: event.clientX, y: event.clientY }; }, { passive: true });
document.documentElement.addEventListener("mouseleave", () => { pointer = null; });

function cursorUnderPointer(chart) {
  if (!pointer || !chart.over.isConnected) return;
  const box = chart.over.getBoundingClientRect();
  const [left, top] = [pointer.x - box.left, pointer.y - box.top];
  if (left >= 0 && top >= 0 && left <= box.width && top <= box.height) chart.setCursor({ left, top });
}

// uPlot calls setSelect when a drag ends (then zooms to it) and when it clears the selection.
// A live refresh may have replaced the chart during the drag: the one on screen zooms too.
function rememberZoom(key) {
  return (u) => {
    if (u.select.width < 2) return;
    const [min, max] = [u.posToVal(u.select.left, "x"), u.posToVal(u.select.left + u.select.width, "x")];
    zooms.set(key, [min, max]);
    if (newest.get(key) !== u) newest.get(key)?.setScale("x", { min, max });
  };
}

// series: [{label, cls, points: [[seconds, value|null], ...]}]
// lines:  [{label, value, cls}]   horizontal reference lines (thresholds, limits)
// band:   {from, to, label, cls}  a shaded range of values (e.g. above a temperature limit)
// spanS:  the window the title names: the time axis ends now and spans it (or the data, if older)
// key: names the chart across live refreshes (which rebuild the view), so a zoom survives them.
export function lineChart({ title, series, spanS, key = title, lines = [], band = null, yFormat = number }) {
  const data = aligned(series);
  if (!data.slice(1).flat().some((v) => v !== null)) {
    return h("figure", { class: "chart-box" }, h("figcaption", {}, title), h("p", { class: "empty" }, t("chart.no_data")));
  }
  const xMax = Math.max(data[0].at(-1), Date.now() / 1000);
  const xMin = Math.min(data[0][0], xMax - spanS);
  const [yMin, yMax] = valueRange(data, lines, band);
  const description = describe(series, lines, yFormat);
  const plot = h("div", { class: "uplot-host", role: "img", "aria-label": `${title}. ${description}` });
  const chart = new uPlot({
    width: 560, height: HEIGHT,
    scales: { x: { time: true }, y: { range: () => [yMin, yMax] } },
    series: [
      { label: t("chart.time"), value: (u, v) => (v === null ? "—" : dateTime(v)) },
      ...series.map((one) => ({
        label: one.label, stroke: COLORS[one.cls], width: 2.5, dash: DASHED.has(one.cls) ? [10, 5] : undefined,
        spanGaps: false, points: { show: (u) => u.data[0].length < 3 },
        value: (u, v) => (v === null || v === undefined ? "—" : yFormat(v)),
      })),
    ],
    axes: [{ space: (u, i, min, max) => (max - min > 86400 ? 90 : 50), values: timeTicks },
      { size: 78, values: (u, splits) => splits.map((v) => yFormat(v)) }],
    cursor: {
      drag: { x: true, y: false },
      bind: { dblclick: (u) => () => { zooms.delete(key); u.setScale("x", { min: xMin, max: xMax }); return null; } },
    },
    hooks: {
      drawClear: [drawBand(band)], draw: [drawLines(lines, yFormat)],
      setSelect: [rememberZoom(key)],
    },
  }, data, plot);
  const [zoomMin, zoomMax] = zooms.get(key) ?? [xMin, xMax];
  chart.setScale("x", { min: zoomMin, max: zoomMax });
  newest.set(key, chart);
  new ResizeObserver(() => {
    if (!plot.clientWidth) return;
    chart.setSize({ width: plot.clientWidth, height: HEIGHT });
    requestAnimationFrame(() => cursorUnderPointer(chart)); // once uPlot has laid out the new size
  }).observe(plot);
  const figure = h("figure", { class: "chart-box" }, h("figcaption", {}, title), plot,
    (lines.length || band) && references(lines, band, yFormat),
    h("p", { class: "chart-note" }, t("chart.zoom_note")));
  figure.uplot = chart; // tests read its scales
  return figure;
}
