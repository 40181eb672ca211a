// The alert inbox: filter by state and type; acknowledge with a note (one, or the selected
// ones at once), resolve; each alert's own page has its evidence and comments (alert.js).

import { fill, h, section, table } from "../dom.js";
import { dateTime, label } from "../format.js";
import { t, term } from "../i18n.js";
import { loanLink, warehouseLink } from "./common.js";

export const refreshOn = ["alert."];
const STATES = ["open", "acknowledged", "resolved", "all"];

export function alertSubject(alert, app) {
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

export function alertActions(alert, app) {
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

// Open alerts ticked for a bulk acknowledgement (kept across live refreshes of the list).
const selected = new Set();

function selector(alert) {
  if (alert.state !== "open") return "";
  return h("input", { type: "checkbox", id: `select-${alert.id}`, checked: selected.has(alert.id),
    "aria-label": t("alerts.select", { type: term("alert_type", alert.type), id: alert.id }),
    onchange: (event) => (event.target.checked ? selected.add(alert.id) : selected.delete(alert.id)) });
}

export function alertsTable(alerts, app, caption, { selectable = false } = {}) {
  const rows = alerts.map((alert) => h("tr", { id: `alert-${alert.id}`, "data-type": alert.type, "data-state": alert.state },
    selectable && h("td", { class: "select" }, selector(alert)),
    h("td", {}, h("time", { datetime: new Date(alert.opened_at_s * 1000).toISOString() }, dateTime(alert.opened_at_s))),
    h("td", {}, h("span", { class: `badge severity-${alert.severity}` }, term("severity", alert.severity))),
    h("th", { scope: "row" }, h("a", { href: `#/alerts/${encodeURIComponent(alert.id)}` }, term("alert_type", alert.type))),
    h("td", {}, alertSubject(alert, app)),
    h("td", { "data-field": "state" }, term("alert_state", alert.state),
      alert.silenced_by && [" ", h("span", { class: "badge silenced", title: alert.silenced_by }, t("alerts.silenced"))]),
    h("td", { "data-field": "assignee" }, alert.assignee ?? "—"),
    h("td", {}, acknowledgement(alert)),
    h("td", { class: "actions" }, alertActions(alert, app))));
  if (!rows.length) return h("p", { class: "empty" }, t("alerts.none"));
  const columns = [...(selectable ? ["select"] : []), "opened", "severity", "type", "about", "state", "assignee",
    "acknowledged", "actions"];
  return table(caption, columns.map((key) => t(`alerts.column.${key}`)), rows, { id: "alerts-table", stack: true });
}

async function acknowledgeSelected(app, alerts) {
  const open = new Set(alerts.filter((alert) => alert.state === "open").map((alert) => alert.id));
  const ids = [...selected].filter((id) => open.has(id));
  if (!ids.length) return app.toast(t("alerts.bulk.none_selected"));
  const answer = await app.api.post("/alerts/ack", { ids });
  selected.clear();
  app.toast(t("alerts.bulk.done", { count: answer.acknowledged.length, skipped: Object.keys(answer.skipped).length }));
  app.refresh();
}

function bulkBar(app, alerts) {
  return h("p", { class: "bulk" }, h("button", { type: "button", id: "ack-selected",
    onclick: () => acknowledgeSelected(app, alerts).catch((error) => app.toast(error.message)) }, t("alerts.bulk.acknowledge")));
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
  const shown = alerts.filter((alert) => !type || alert.type === type);
  const selectable = shown.some((alert) => alert.state === "open");
  fill(root,
    h("h1", {}, t("alerts.title")),
    filters(state, type, types),
    section(t(`alerts.heading.${state}`), selectable && bulkBar(app, shown),
      alertsTable(shown, app, t("alerts.caption"), { selectable })));
}
