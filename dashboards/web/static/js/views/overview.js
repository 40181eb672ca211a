// The whole book at a glance: loans by status, LTV distribution, open alerts, gateways.

import { barChart } from "../charts.js";
import { fill, h, section } from "../dom.js";
import { label } from "../format.js";
import { STATUS_ORDER, loansTable } from "./common.js";

export const refreshOn = ["loan.", "alert.", "gateway."];

const LTV_BINS = [
  { label: "below 50 %", below: 0.5 }, { label: "50–60 %", below: 0.6 }, { label: "60–70 %", below: 0.7 },
  { label: "70–80 %", below: 0.8 }, { label: "80–90 %", below: 0.9 }, { label: "90 % and above", below: Infinity },
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
  return STATUS_ORDER.map((status) => ({ label: label(status), value: counts.get(status) ?? 0, cls: `status-${status}` }));
}

function ltvBars(loans) {
  const valued = loans.filter((loan) => loan.ltv !== null);
  const bars = LTV_BINS.map((bin, index) => ({
    label: bin.label,
    value: valued.filter((loan) => Number(loan.ltv) < bin.below && (index === 0 || Number(loan.ltv) >= LTV_BINS[index - 1].below)).length,
  }));
  return [...bars, { label: "not valued yet", value: loans.length - valued.length, cls: "muted" }];
}

function alertBars(alerts) {
  return [...countBy(alerts, (alert) => alert.type)].sort((a, b) => b[1] - a[1])
    .map(([type, count]) => ({ label: label(type), value: count, cls: "alert-bar" }));
}

function gatewayList(gateways) {
  return h("ul", { class: "gateways" }, gateways.map((gateway) => h("li", { "data-gateway": gateway.id },
    h("span", { class: `health ${gateway.online ? "ok" : "fault"}` }, gateway.online ? "online" : "offline"), " ",
    gateway.id)));
}

export async function render(root, app) {
  const [loans, openAlerts, gateways] = await Promise.all([
    app.api.get("/loans"),
    app.api.get("/alerts", { state: "open", limit: 1000 }),
    app.isStaff ? app.api.get("/gateways") : null,
  ]);
  const online = gateways?.filter((gateway) => gateway.online).length;
  fill(root,
    h("h1", {}, "Overview"),
    h("div", { class: "tiles" },
      tile("tile-loans", "Loans", String(loans.length)),
      tile("tile-open-alerts", "Open alerts", String(openAlerts.length)),
      gateways && tile("tile-gateways", "Gateways online", `${online} / ${gateways.length}`)),
    h("div", { class: "grid" },
      section("Loans by status", barChart({ title: "Number of loans in each status", bars: statusBars(loans) })),
      section("LTV distribution", barChart({ title: "Number of loans in each LTV band", bars: ltvBars(loans) })),
      section("Open alerts by type", barChart({ title: "Number of open alerts of each type", bars: alertBars(openAlerts) })),
      gateways && section("Gateways", gatewayList(gateways))),
    section("Loans", loansTable(loans)));
}
