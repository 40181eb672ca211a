// The whole book at a glance: loans by status, LTV distribution, open alerts, gateways.

import { barChart } from "../charts.js";
import { fill, h, section } from "../dom.js";
import { t, term } from "../i18n.js";
import { STATUS_ORDER, loansTable } from "./common.js";

export const refreshOn = ["loan.", "alert.", "gateway."];

const LTV_BINS = [
  { key: "overview.ltv_bin.below_50", below: 0.5 }, { key: "overview.ltv_bin.50_60", below: 0.6 },
  { key: "overview.ltv_bin.60_70", below: 0.7 }, { key: "overview.ltv_bin.70_80", below: 0.8 },
  { key: "overview.ltv_bin.80_90", below: 0.9 }, { key: "overview.ltv_bin.90_up", below: Infinity },
];

function countBy(items, key) {
  const counts = new Map();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

function tile(id, title, value, note) {
  return h("div", { class: "tile", id },
    h("p", { class: "tile-title" }, title), h("p", { class: "tile-value" }, value), note && h("p", { class: "tile-note" }, note));
}

function statusBars(loans) {
  const counts = countBy(loans, (loan) => loan.status);
  return STATUS_ORDER.map((status) => ({ label: term("status", status), value: counts.get(status) ?? 0, cls: `status-${status}` }));
}

function ltvBars(loans) {
  const valued = loans.filter((loan) => loan.ltv !== null);
  const bars = LTV_BINS.map((bin, index) => ({
    label: t(bin.key),
    value: valued.filter((loan) => Number(loan.ltv) < bin.below && (index === 0 || Number(loan.ltv) >= LTV_BINS[index - 1].below)).length,
  }));
  return [...bars, { label: t("overview.ltv_bin.not_valued"), value: loans.length - valued.length, cls: "muted" }];
}

function alertBars(alerts) {
  return [...countBy(alerts, (alert) => alert.type)].sort((a, b) => b[1] - a[1])
    .map(([type, count]) => ({ label: term("alert_type", type), value: count, cls: "alert-bar" }));
}

function gatewayList(gateways) {
  return h("ul", { class: "gateways" }, gateways.map((gateway) => h("li", { "data-gateway": gateway.id },
    h("span", { class: `health ${gateway.online ? "ok" : "fault"}` }, t(gateway.online ? "gateway.online" : "gateway.offline")), " ",
    gateway.id)));
}

export async function render(root, app) {
  const [loans, openAlerts, gateways] = await Promise.all([
    app.api.get("/loans"),
    app.may("alerts") ? app.api.get("/alerts", { state: "open", limit: 1000 }) : null,
    app.isStaff ? app.api.get("/gateways") : null,
  ]);
  const online = gateways?.filter((gateway) => gateway.online).length;
  fill(root,
    h("h1", {}, t("overview.title")),
    h("div", { class: "tiles" },
      tile("tile-loans", t("overview.tile.loans"), String(loans.length)),
      openAlerts && tile("tile-open-alerts", t("overview.tile.open_alerts"), String(openAlerts.length)),
      gateways && tile("tile-gateways", t("overview.tile.gateways_online"), `${online} / ${gateways.length}`)),
    h("div", { class: "grid" },
      section(t("overview.section.by_status"), barChart({ title: t("overview.chart.by_status"), bars: statusBars(loans) })),
      section(t("overview.section.ltv"), barChart({ title: t("overview.chart.ltv"), bars: ltvBars(loans) })),
      openAlerts && section(t("overview.section.alerts"), barChart({ title: t("overview.chart.alerts"), bars: alertBars(openAlerts) })),
      gateways && section(t("overview.section.gateways"), gatewayList(gateways))),
    section(t("overview.section.loans"), loansTable(loans)));
}
