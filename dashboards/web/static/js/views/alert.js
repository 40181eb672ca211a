// One alert: what it is about, its evidence (the details the monitor attached), who saw it and
// who works it, the comments people left, and what may be done with it.

import { fill, h, section } from "../dom.js";
import { dateTime, label, number } from "../format.js";
import { t, term } from "../i18n.js";
import { matchesTable, outcomeForm, tasksTable } from "./alert_cases.js";
import { alertActions, alertSubject } from "./alerts.js";
import { keptForm } from "./common.js";

export const refreshOn = ["alert.", "playbook."];
const SOON_AFTER_2001_S = 1e9; // a details field ending in _s above this is a moment, not a span

function detailValue(key, value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.map(String).join(t("list.comma")) : "—";
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "number" && key.endsWith("_s") && value > SOON_AFTER_2001_S) return dateTime(value);
  if (typeof value === "number") return number(value, 4);
  return String(value);
}

// The evidence as the monitor wrote it: field names are the API's (docs/webhooks.md lists them).
function evidence(details) {
  const keys = Object.keys(details).sort();
  if (!keys.length) return h("p", { class: "empty" }, t("alert.no_details"));
  return h("dl", { class: "facts", id: "alert-evidence" }, keys.map((key) =>
    h("div", { "data-detail": key }, h("dt", {}, label(key)), h("dd", {}, detailValue(key, details[key])))));
}

function facts(alert, app) {
  const when = (seconds) => (seconds ? dateTime(seconds) : "—");
  const rows = [
    ["severity", h("span", { class: `badge severity-${alert.severity}` }, term("severity", alert.severity))],
    ["state", h("span", { "data-field": "state" }, term("alert_state", alert.state))],
    ["about", alertSubject(alert, app)],
    ["opened", when(alert.opened_at_s)],
    ["acknowledged", alert.acknowledged_by
      ? t("alert.acknowledged_by", { who: alert.acknowledged_by, at: when(alert.acknowledged_at_s) }) : "—"],
    ["ack_note", alert.ack_note ?? "—"],
    ["resolved", when(alert.resolved_at_s)],
    ["assignee", h("span", { "data-field": "assignee" }, alert.assignee ?? "—")],
  ];
  return h("dl", { class: "facts" }, rows.map(([key, value]) => h("div", {}, h("dt", {}, t(`alert.fact.${key}`)), h("dd", {}, value))));
}

async function submit(event, app, send, done) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = form.querySelector(".error");
  try {
    await send(form);
    form.reset();
    error.textContent = "";
    app.toast(done);
    app.refresh();
  } catch (failure) {
    error.textContent = failure.message;
  }
}

// Staff only: who works the alert (empty: nobody).
function assigneeForm(alert, app) {
  const path = `/alerts/${encodeURIComponent(alert.id)}/assignee`;
  return h("form", { id: "assignee-form", class: "inline-form", onsubmit: (event) => submit(event, app,
    (form) => app.api.put(path, { assignee: form.assignee.value.trim() || null }), t("toast.assigned")) },
  h("label", { for: "assignee-input" }, t("alert.assign_to")), " ",
  h("input", { id: "assignee-input", name: "assignee", maxlength: 128, placeholder: alert.assignee ?? "" }), " ",
  h("button", { type: "submit", id: "assignee-save" }, t("alert.assign")),
  h("p", { class: "error", role: "alert" }));
}

function commentForm(alert, app) {
  const path = `/alerts/${encodeURIComponent(alert.id)}/comments`;
  return h("form", { id: "comment-form", class: "count-form", onsubmit: (event) => submit(event, app,
    (form) => app.api.post(path, { text: form.text.value }), t("toast.commented")) },
  h("p", {}, h("label", { for: "comment-text" }, t("alert.comment")),
    h("textarea", { id: "comment-text", name: "text", rows: 3, maxlength: 4000, required: true })),
  h("p", { class: "error", role: "alert" }),
  h("button", { type: "submit", id: "comment-submit" }, t("alert.add_comment")));
}

function commentList(comments) {
  if (!comments.length) return h("p", { class: "empty" }, t("alert.no_comments"));
  return h("ol", { class: "comments", id: "comments" }, comments.map((comment) => h("li", {},
    h("p", { class: "comment-by" }, t("alert.comment_by", { who: comment.author, role: comment.role, at: dateTime(comment.at_s) })),
    h("p", { class: "comment-text" }, comment.text))));
}

export async function render(root, app, { id }) {
  const path = `/alerts/${encodeURIComponent(id)}`;
  const alert = await app.api.get(path); // first: an alert not the caller's stops here (404)
  const comments = await app.api.get(`${path}/comments`);
  fill(root,
    h("h1", {}, t("alert.title", { type: term("alert_type", alert.type) })),
    h("p", {}, h("a", { href: "#/alerts" }, t("alert.back"))),
    section(t("alert.heading.facts"), facts(alert, app),
      h("p", { class: "actions" }, alertActions(alert, app))),
    section(t("alert.heading.evidence"), evidence(alert.details)),
    section(t("alert.heading.matches"), matchesTable(alert)),
    section(t("alert.heading.playbook"), tasksTable(alert, app)),
    app.isStaff && section(t("alert.heading.outcome"), keptForm(root, "outcome-form", () => outcomeForm(alert, app), alert.id)),
    app.isStaff && section(t("alert.heading.assignee"), keptForm(root, "assignee-form", () => assigneeForm(alert, app), alert.id)),
    section(t("alert.heading.comments"), commentList(comments), keptForm(root, "comment-form", () => commentForm(alert, app), alert.id)));
}
