// One loan: where it stands, its LTV against its thresholds over time, collateral value,
// observed against pledged quantity, the cure countdown, its lots and alerts.

import { fill, h, section, statusBadge } from "../dom.js";
import { money, number, percent, quantity } from "../format.js";
import { t, term } from "../i18n.js";
import { alertsTable } from "./alerts.js";
import { lastSpan, lineChart, rangeOf, rangePicker } from "../timeseries.js";
import { cureCountdown, lotsTable, unitsOf } from "./common.js";

export const refreshOn = ["loan.", "alert."];
const HISTORY_S = 6 * 3600;

function facts(loan) {
  const thresholds = Object.fromEntries(["warning", "margin_call", "liquidation"].map((level) => [level, percent(loan.thresholds[level])]));
  const rows = [
    ["status", statusBadge(loan.status)],
    ["ltv", h("span", { "data-field": "ltv" }, percent(loan.ltv))],
    ["collateral_value", h("span", { "data-field": "collateral_value" }, money(loan.collateral_value, loan.currency))],
    ["outstanding", money(loan.outstanding, loan.currency)],
    ["drawing_power", money(loan.drawing_power, loan.currency)],
    ["target_ltv", percent(loan.target_ltv)],
    ["thresholds", t("loan.thresholds", thresholds)],
    ["cure_deadline", h("span", { "data-field": "cure" }, cureCountdown(loan.cure_deadline_s))],
    ["cure_amount", money(loan.cure_amount, loan.currency)],
    ["price", loan.price_stale ? h("span", { class: "health fault" }, t("loan.price_stale")) : t("loan.price_current")],
  ];
  return h("dl", { class: "facts" }, rows.map(([key, value]) => h("div", {}, h("dt", {}, t(`loan.fact.${key}`)), h("dd", {}, value))));
}

const points = (history, field) => history.map((point) => [point.at_s, point[field] === null ? null : Number(point[field])]);

function ltvChart(loan, history, spanS) {
  return lineChart({
    title: t("loan.chart.ltv", { span: lastSpan(spanS) }),
    key: `${loan.id}/ltv/${spanS}`,
    spanS,
    series: [{ label: t("loan.series.ltv"), cls: "s-ltv", points: points(history, "ltv") }],
    lines: [
      { label: t("loan.line.target"), value: Number(loan.target_ltv), cls: "l-target" },
      { label: term("status", "warning"), value: Number(loan.thresholds.warning), cls: "l-warning" },
      { label: term("status", "margin_call"), value: Number(loan.thresholds.margin_call), cls: "l-margin" },
      { label: term("status", "liquidation"), value: Number(loan.thresholds.liquidation), cls: "l-liquidation" },
    ],
    yFormat: (v) => percent(v),
  });
}

function valueChart(loan, history, spanS) {
  return lineChart({
    title: t("loan.chart.value", { currency: loan.currency, span: lastSpan(spanS) }),
    key: `${loan.id}/value/${spanS}`,
    spanS,
    series: [{ label: t("loan.series.collateral_value"), cls: "s-value", points: points(history, "collateral_value") }],
    lines: [{ label: t("loan.line.outstanding"), value: Number(loan.outstanding), cls: "l-outstanding" }],
    yFormat: (v) => number(v, 0),
  });
}

function quantityChart(history, unit, spanS) {
  return lineChart({
    title: unit ? t("loan.chart.quantity_in", { unit, span: lastSpan(spanS) }) : t("loan.chart.quantity", { span: lastSpan(spanS) }),
    spanS,
    series: [
      { label: t("loan.series.observed"), cls: "s-observed", points: points(history, "observed_quantity") },
      { label: t("loan.series.pledged"), cls: "s-pledged", points: points(history, "pledged_quantity") },
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
    app.may("alerts") ? app.api.get("/alerts", { limit: 1000 }) : null,
  ]);
  const lots = await Promise.all(loan.lots.map((lot) => app.api.get(`/lots/${encodeURIComponent(lot)}`)));
  const units = unitsOf(app.layout);
  const lotUnits = new Set(lots.map((lot) => units[lot.commodity]));
  fill(root,
    h("h1", {}, t("loan.title", { id: loan.id })),
    h("p", { class: "subtitle" }, t("loan.subtitle", { borrower: loan.borrower, lender: loan.lender, currency: loan.currency })),
    rangePicker(spanS),
    h("div", { class: "grid" },
      section(t("loan.section.standing"), facts(loan)),
      section(t("loan.section.ltv"), ltvChart(loan, history, spanS))),
    h("div", { class: "grid" },
      section(t("loan.section.value"), valueChart(loan, history, spanS)),
      section(t("loan.section.quantity"), quantityChart(history, lotUnits.size === 1 ? [...lotUnits][0] : "", spanS))),
    section(t("loan.section.lots"), lotsTable(t("loan.lots_caption", { id: loan.id }), lots, units)),
    alerts && section(t("loan.section.alerts"),
      alertsTable(alerts.filter((alert) => alert.loan === loan.id), app, t("loan.alerts_caption", { id: loan.id }))));
}
