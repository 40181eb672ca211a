// Warehouses: each one's gateway and its lots, pledged against observed, with sensor health.

import { h, section } from "../dom.js";
import { dateTime } from "../format.js";
import { lotsTable, unitsOf, warehouseLink } from "./common.js";

export const refreshOn = ["alert.", "loan."];

export function gatewayFacts(gateway) {
  if (!gateway) return h("p", { class: "empty" }, "The gateway has not reported yet.");
  return h("dl", { class: "facts compact", "data-gateway": gateway.id },
    h("div", {}, h("dt", {}, "Gateway"), h("dd", {}, gateway.id)),
    h("div", {}, h("dt", {}, "State"), h("dd", {},
      h("span", { class: `health ${gateway.online ? "ok" : "fault"}` }, gateway.online ? "online" : "offline"))),
    h("div", {}, h("dt", {}, "Last seen"), h("dd", {}, gateway.last_seen ? dateTime(Date.parse(gateway.last_seen) / 1000) : "never")),
    h("div", {}, h("dt", {}, "Missing messages"), h("dd", {}, String(gateway.missing_seqs))),
    h("div", {}, h("dt", {}, "Outbox"), h("dd", {}, String(gateway.info.outbox_depth ?? "—"))));
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
  root.append(h("h1", {}, "Warehouses"), ...warehouses.map((warehouse) => {
    const gateway = gateways.find((g) => g.id === warehouse.gateway);
    return h("section", { class: "panel", "aria-label": `Warehouse ${warehouse.id}`, "data-warehouse": warehouse.id },
      h("h2", {}, warehouseLink(warehouse.id)),
      app.isStaff && gatewayFacts(gateway),
      lotsTable(`Lots in ${warehouse.id}`, lots.filter((lot) => lot.warehouse === warehouse.id), units));
  }));
  if (!warehouses.length) root.append(section("No warehouses", h("p", {}, "Nothing is pledged to you yet.")));
}
