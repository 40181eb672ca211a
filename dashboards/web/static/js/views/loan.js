// One loan: where it stands, its LTV against its thresholds over time, collateral value,
// observed against pledged quantity, the cure countdown, its lots and alerts.

import { fill, h, section, statusBadge } from "../dom.js";
import { label, money, number, percent, quantity } from "../format.js";
import { alertsTable } from "./alerts.js";
import { lineChart, rangeOf, rangePicker, spanLabel } from "../timeseries.js";
import { cureCountdown, lotsTable, unitsOf } from "./common.js";

export const refreshOn = ["loan.", "alert."];
const HISTORY_S = 6 * 3600;

function facts(loan) {
  const rows = [
    ["Status", statusBadge(loan.status)],
    ["LTV", h("span", { "data-field": "ltv" }, percent(loan.ltv))],
    ["Collateral value", h("span", { "data-field": "collateral_value" }, money(loan.collateral_value, loan.currency))],
    ["Outstanding", money(loan.outstanding, loan.currency)],
    ["Drawing power", money(loan.drawing_power, loan.currency)],
    ["Target LTV", percent(loan.target_ltv)],
    ["Thresholds", `warning ${percent(loan.thresholds.warning)}, margin call ${percent(loan.thresholds.margin_call)}, liquidation ${percent(loan.thresholds.liquidation)}`],
    ["Cure deadline", h("span", { "data-field": "cure" }, cureCountdown(loan.cure_deadline_s))],
    ["Cure amount", money(loan.cure_amount, loan.currency)],
    ["Price", loan.price_stale ? h("span", { class: "health fault" }, "stale") : "current"],
  ];
  return h("dl", { class: "facts" }, rows.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))));
}

const points = (history, field) => history.map((point) => [point.at_s, point[field] === null ? null : Number(point[field])]);

function ltvChart(loan, history, spanS) {
  return lineChart({
    title: `LTV against its thresholds, last ${spanLabel(spanS)}`,
    key: `${loan.id}/ltv/${spanS}`,
    spanS,
    series: [{ label: "LTV", cls: "s-ltv", points: points(history, "ltv") }],
    lines: [
      { label: "target", value: Number(loan.target_ltv), cls: "l-target" },
      { label: "warning", value: Number(loan.thresholds.warning), cls: "l-warning" },
      { label: "margin call", value: Number(loan.thresholds.margin_call), cls: "l-margin" },
      { label: "liquidation", value: Number(loan.thresholds.liquidation), cls: "l-liquidation" },
    ],
    yFormat: (v) => percent(v),
  });
}

function valueChart(loan, history, spanS) {
  return lineChart({
    title: `Collateral value against the amount outstanding (${loan.currency}), last ${spanLabel(spanS)}`,
    key: `${loan.id}/value/${spanS}`,
    spanS,
    series: [{ label: "collateral value", cls: "s-value", points: points(history, "collateral_value") }],
    lines: [{ label: "outstanding", value: Number(loan.outstanding), cls: "l-outstanding" }],
    yFormat: (v) => number(v, 0),
  });
}

function quantityChart(history, unit, spanS) {
  return lineChart({
    title: `Observed against pledged quantity${unit ? ` (${unit})` : ""}, last ${spanLabel(spanS)}`,
    spanS,
    series: [
      { label: "observed", cls: "s-observed", points: points(history, "observed_quantity") },
      { label: "pledged", cls: "s-pledged", points: points(history, "pledged_quantity") },
    ],
    yFormat: (v) => quantity(v),
  });
}

export async function render(root, app, { id, query }) {
  const path = `/loans/${encodeURIComponent(id)}`;
  const spanS = rangeOf(query, HISTORY_S);
  const [loan, history, alerts] = await Promise.all([
    app.api.get(path),
    app.api.get(`${path}/history`, { from_s: Math.floor(Date.now() / 1000 - spanS) }),
    app.api.get("/alerts", { limit: 1000 }),
  ]);
  const lots = await Promise.all(loan.lots.map((lot) => app.api.get(`/lots/${encodeURIComponent(lot)}`)));
  const units = unitsOf(app.layout);
  const lotUnits = new Set(lots.map((lot) => units[lot.commodity]));
  fill(root,
    h("h1", {}, `Loan ${loan.id}`),
    h("p", { class: "subtitle" }, `${loan.borrower} · lender ${loan.lender} · ${label(loan.currency)}`),
    rangePicker(spanS),
    h("div", { class: "grid" },
      section("Standing", facts(loan)),
      section("LTV over time", ltvChart(loan, history, spanS))),
    h("div", { class: "grid" },
      section("Collateral value over time", valueChart(loan, history, spanS)),
      section("Quantity over time", quantityChart(history, lotUnits.size === 1 ? [...lotUnits][0] : "", spanS))),
    section("Lots", lotsTable(`Lots pledged to ${loan.id}`, lots, units)),
    section("Alerts", alertsTable(alerts.filter((alert) => alert.loan === loan.id), app, `Alerts on ${loan.id}`)));
}
