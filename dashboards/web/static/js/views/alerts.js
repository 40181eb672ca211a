// The alert inbox: filter by state and type; acknowledge with a note, resolve.

import { fill, h, section, table } from "../dom.js";
import { dateTime, label } from "../format.js";
import { t, term } from "../i18n.js";
import { loanLink, warehouseLink } from "./common.js";

export const refreshOn = ["alert."];
const STATES = ["open", "acknowledged", "resolved", "all"];

function subject(alert, app) {
  const parts = [];
  if (alert.loan) parts.push(loanLink(alert.loan));
  if (alert.lot) parts.push(t("alerts.about_lot", { id: alert.lot }));
  if (alert.gateway) {
    const warehouse = app.layout.warehouses.find((w) => w.gateway === alert.gateway);
    parts.push(warehouse ? warehouseLink(warehouse.id) : t("alerts.about_gateway", { id: alert.gateway }));
  }
  if (!parts.length && alert.details.commodity) parts.push(label(String(alert.details.commodity)));
  return parts.flatMap((part, index) => (index ? [t("list.comma"), part] : [part]));
}

// Alerts that say goods may be gone: the API lets only staff close them (services/alert_inbox.py).
const LOSS_TYPES = ["stock_shortfall", "unauthorized_removal", "weight_count_mismatch", "tag_conflict", "collateral_unverified"];

function actions(alert, app) {
  const mayResolve = app.isStaff || !LOSS_TYPES.includes(alert.type);
  return [
    alert.state === "open" && h("button", { type: "button", id: `ack-${alert.id}`,
      onclick: () => app.alertAction(alert, "acknowledge") }, t("alerts.acknowledge")),
    alert.state !== "resolved" && mayResolve && h("button", { type: "button", id: `resolve-${alert.id}`, class: "secondary",
      onclick: () => app.alertAction(alert, "resolve") }, t("alerts.resolve")),
  ];
}

function acknowledgement(alert) {
  if (!alert.acknowledged_by) return "—";
  return alert.ack_note ? t("alerts.acknowledged_note", { who: alert.acknowledged_by, note: alert.ack_note }) : alert.acknowledged_by;
}

export function alertsTable(alerts, app, caption) {
  const rows = alerts.map((alert) => h("tr", { id: `alert-${alert.id}`, "data-type": alert.type, "data-state": alert.state },
    h("td", {}, h("time", { datetime: new Date(alert.opened_at_s * 1000).toISOString() }, dateTime(alert.opened_at_s))),
    h("td", {}, h("span", { class: `badge severity-${alert.severity}` }, term("severity", alert.severity))),
    h("th", { scope: "row" }, term("alert_type", alert.type)),
    h("td", {}, subject(alert, app)),
    h("td", { "data-field": "state" }, term("alert_state", alert.state)),
    h("td", {}, acknowledgement(alert)),
    h("td", { class: "actions" }, actions(alert, app))));
  if (!rows.length) return h("p", { class: "empty" }, t("alerts.none"));
  const columns = ["opened", "severity", "type", "about", "state", "acknowledged", "actions"];
  return table(caption, columns.map((key) => t(`alerts.column.${key}`)), rows, { id: "alerts-table", stack: true });
}

function filters(state, type, types) {
  const go = (form) => {
    const params = new URLSearchParams({ state: form.state.value });
    if (form.type.value) params.set("type", form.type.value);
    location.hash = `#/alerts?${params}`;
  };
  return h("form", { class: "filters", onchange: (event) => go(event.currentTarget),
    onsubmit: (event) => { event.preventDefault(); go(event.currentTarget); } },
    h("label", {}, t("alerts.filter.state"), " ", h("select", { name: "state" },
      STATES.map((one) => h("option", { value: one, selected: one === state }, t(`alerts.filter.state_${one}`))))),
    h("label", {}, t("alerts.filter.type"), " ", h("select", { name: "type" },
      h("option", { value: "" }, t("alerts.filter.all_types")),
      types.map((one) => h("option", { value: one, selected: one === type }, term("alert_type", one))))));
}

export async function render(root, app, { query }) {
  const state = STATES.includes(query.get("state")) ? query.get("state") : "open";
  const type = query.get("type") ?? "";
  const alerts = await app.api.get("/alerts", state === "all" ? { limit: 1000 } : { state, limit: 1000 });
  const types = [...new Set([...alerts.map((alert) => alert.type), ...(type ? [type] : [])])].sort();
  fill(root,
    h("h1", {}, t("alerts.title")),
    filters(state, type, types),
    section(t(`alerts.heading.${state}`), alertsTable(alerts.filter((alert) => !type || alert.type === type), app,
      t("alerts.caption"))));
}
