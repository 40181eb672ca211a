// Warehouses: each one's gateway and its lots, pledged against observed, with sensor health.

import { h, section } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { lotsTable, unitsOf, warehouseLink } from "./common.js";

export const refreshOn = ["alert.", "loan."];

export function gatewayFacts(gateway) {
  if (!gateway) return h("p", { class: "empty" }, t("gateway.not_reported"));
  const lastSeen = gateway.last_seen ? h("time", { datetime: gateway.last_seen }, dateTime(Date.parse(gateway.last_seen) / 1000))
    : t("gateway.never");
  const fact = (key, value) => h("div", {}, h("dt", {}, t(`gateway.fact.${key}`)), h("dd", {}, value));
  return h("dl", { class: "facts compact", "data-gateway": gateway.id },
    fact("gateway", gateway.id),
    fact("state", h("span", { class: `health ${gateway.online ? "ok" : "fault"}` }, t(gateway.online ? "gateway.online" : "gateway.offline"))),
    fact("last_seen", lastSeen),
    fact("missing_messages", String(gateway.missing_seqs)),
    fact("outbox", String(gateway.info.outbox_depth ?? "—")));
}

export async function loadLots(app, lotIds) {
  return Promise.all(lotIds.map((lot) => app.api.get(`/lots/${encodeURIComponent(lot)}`)));
}

export async function render(root, app) {
  const warehouses = app.layout.warehouses;
  const [lots, gateways] = await Promise.all([
    loadLots(app, warehouses.flatMap((w) => w.lots)),
    app.isStaff ? app.api.get("/gateways") : [],
  ]);
  const units = unitsOf(app.layout);
  root.append(h("h1", {}, t("warehouses.title")), ...warehouses.map((warehouse) => {
    const gateway = gateways.find((g) => g.id === warehouse.gateway);
    return h("section", { class: "panel", "aria-label": t("warehouse.title", { id: warehouse.id }), "data-warehouse": warehouse.id },
      h("h2", {}, warehouseLink(warehouse.id)),
      app.isStaff && gatewayFacts(gateway),
      lotsTable(t("warehouse.lots_caption", { id: warehouse.id }), lots.filter((lot) => lot.warehouse === warehouse.id), units,
        { loanLinks: app.may("loans") }));
  }));
  if (!warehouses.length) root.append(section(t("warehouses.none"), h("p", {}, t("warehouses.none_detail"))));
}
