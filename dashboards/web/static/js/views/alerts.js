// The alert inbox: filter by state and type; acknowledge with a note, resolve.

import { fill, h, section, table } from "../dom.js";
import { dateTime, label } from "../format.js";
import { loanLink, warehouseLink } from "./common.js";

export const refreshOn = ["alert."];
const STATES = ["open", "acknowledged", "resolved", "all"];

function subject(alert, app) {
  const parts = [];
  if (alert.loan) parts.push(loanLink(alert.loan));
  if (alert.lot) parts.push(`lot ${alert.lot}`);
  if (alert.gateway) {
    const warehouse = app.layout.warehouses.find((w) => w.gateway === alert.gateway);
    parts.push(warehouse ? warehouseLink(warehouse.id) : `gateway ${alert.gateway}`);
  }
  if (!parts.length && alert.details.commodity) parts.push(label(String(alert.details.commodity)));
  return parts.flatMap((part, index) => (index ? [", ", part] : [part]));
}

function actions(alert, app) {
  return [
    alert.state === "open" && h("button", { type: "button", id: `ack-${alert.id}`,
      onclick: () => app.alertAction(alert, "acknowledge") }, "Acknowledge"),
    alert.state !== "resolved" && h("button", { type: "button", id: `resolve-${alert.id}`, class: "secondary",
      onclick: () => app.alertAction(alert, "resolve") }, "Resolve"),
  ];
}

export function alertsTable(alerts, app, caption) {
  const rows = alerts.map((alert) => h("tr", { id: `alert-${alert.id}`, "data-type": alert.type, "data-state": alert.state },
    h("td", {}, h("time", { datetime: new Date(alert.opened_at_s * 1000).toISOString() }, dateTime(alert.opened_at_s))),
    h("td", {}, h("span", { class: `badge severity-${alert.severity}` }, alert.severity)),
    h("th", { scope: "row" }, label(alert.type)),
    h("td", {}, subject(alert, app)),
    h("td", { "data-field": "state" }, label(alert.state)),
    h("td", {}, alert.acknowledged_by ? `${alert.acknowledged_by}${alert.ack_note ? `: “${alert.ack_note}”` : ""}` : "—"),
    h("td", { class: "actions" }, actions(alert, app))));
  if (!rows.length) return h("p", { class: "empty" }, "No alerts.");
  return table(caption, ["Opened", "Severity", "Type", "About", "State", "Acknowledged", "Actions"], rows,
    { id: "alerts-table", stack: true });
}

function filters(state, type, types) {
  const go = (form) => {
    const params = new URLSearchParams({ state: form.state.value });
    if (form.type.value) params.set("type", form.type.value);
    location.hash = `#/alerts?${params}`;
  };
  return h("form", { class: "filters", onchange: (event) => go(event.currentTarget),
    onsubmit: (event) => { event.preventDefault(); go(event.currentTarget); } },
    h("label", {}, "State ", h("select", { name: "state" },
      STATES.map((one) => h("option", { value: one, selected: one === state }, label(one))))),
    h("label", {}, "Type ", h("select", { name: "type" },
      h("option", { value: "" }, "all types"),
      types.map((one) => h("option", { value: one, selected: one === type }, label(one))))));
}

export async function render(root, app, { query }) {
  const state = STATES.includes(query.get("state")) ? query.get("state") : "open";
  const type = query.get("type") ?? "";
  const alerts = await app.api.get("/alerts", state === "all" ? { limit: 1000 } : { state, limit: 1000 });
  const types = [...new Set([...alerts.map((alert) => alert.type), ...(type ? [type] : [])])].sort();
  fill(root,
    h("h1", {}, "Alerts"),
    filters(state, type, types),
    section(`${label(state).replace(/^./, (first) => first.toUpperCase())} alerts`, alertsTable(alerts.filter((alert) => !type || alert.type === type), app,
      "Alerts, newest first")));
}
