// An alert's place in the risk case base: the standard and closed cases most like its episode
// (with the features that matched), the playbook steps its best standard match opened, and the
// staff's form to record what the episode turned out to be (docs/risk-cases.md).

import { h, table } from "../dom.js";
import { dateTime, percent } from "../format.js";
import { t, term } from "../i18n.js";

export const OUTCOMES = ["false_alarm", "sensor_fault", "confirmed_loss", "fraud", "recovered", "cured", "inconclusive"];

function features(list) {
  if (!list.length) return "—";
  return list.map(({ feature, share }) => t("cases.feature_share", { feature: term("feature", feature), share: percent(share) }))
    .join(t("list.comma"));
}

export function matchesTable(alert) {
  if (!alert.matches.length) return h("p", { class: "empty", id: "alert-matches" }, t("cases.no_matches"));
  const rows = alert.matches.map((match) => h("tr", { "data-match": match.id, "data-kind": match.kind },
    h("th", { scope: "row" }, match.title, h("br"), h("small", {}, match.id)),
    h("td", {}, term("match_kind", match.kind)),
    h("td", { class: "num", "data-field": "score" }, percent(match.score)),
    h("td", {}, match.outcome ? term("outcome", match.outcome) : "—"),
    h("td", { "data-field": "matched" }, features(match.matched)),
    h("td", {}, match.missing.length ? match.missing.map((name) => term("feature", name)).join(t("list.comma")) : "—")));
  return table(t("cases.matches_caption"), ["case", "kind", "score", "outcome", "matched", "missing"]
    .map((key) => t(`cases.column.${key}`)), rows, { id: "alert-matches", stack: true });
}

function mayComplete(task, app) {
  return task.state !== "done" && (app.isStaff || (app.caller.role === "lender" && task.owner_role === "lender"));
}

async function complete(alert, task, app) {
  try {
    await app.api.post(`/alerts/${encodeURIComponent(alert.id)}/tasks/${task.step}/done`, {});
    app.toast(t("toast.task_done", { title: task.title }));
    app.refresh();
  } catch (failure) {
    app.toast(failure.message);
  }
}

export function tasksTable(alert, app) {
  if (!alert.tasks.length) return h("p", { class: "empty", id: "alert-tasks" }, t("cases.no_tasks"));
  const rows = alert.tasks.map((task) => h("tr", { "data-step": task.step, "data-state": task.state },
    h("td", { class: "num" }, String(task.step)),
    h("th", { scope: "row" }, task.title, task.description ? h("p", { class: "hint" }, task.description) : ""),
    h("td", {}, term("owner_role", task.owner_role)),
    h("td", {}, dateTime(task.deadline_s)),
    h("td", { "data-field": "state" }, h("span", { class: `badge task-${task.state}` }, term("task_state", task.state))),
    h("td", { "data-field": "done_by" }, task.done_by ? t("cases.done_by", { who: task.done_by, at: dateTime(task.done_at_s) }) : "—"),
    h("td", {}, mayComplete(task, app) ? h("button", { type: "button", id: `task-done-${task.step}`,
      onclick: () => complete(alert, task, app) }, t("cases.mark_done")) : "")));
  const caption = t("cases.tasks_caption", { case: alert.tasks[0].case, version: alert.tasks[0].version });
  return table(caption, ["step", "title", "owner", "deadline", "state", "done_by", "action"]
    .map((key) => t(`cases.task_column.${key}`)), rows, { id: "alert-tasks", stack: true });
}

function outcomeBody(form) {
  const body = { outcome: form.outcome.value, note: form.note.value };
  if (form.loss_amount.value) Object.assign(body, { loss_amount: form.loss_amount.value, loss_currency: form.loss_currency.value });
  return body;
}

// Staff: resolve with an outcome (an active alert) or record the outcome of a resolved one.
export function outcomeForm(alert, app) {
  const resolved = alert.state === "resolved";
  const path = `/alerts/${encodeURIComponent(alert.id)}/${resolved ? "outcome" : "resolve"}`;
  const onsubmit = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    try {
      await app.api.post(path, outcomeBody(form));
      app.toast(t("toast.outcome_recorded"));
      app.refresh();
    } catch (failure) {
      form.querySelector(".error").textContent = failure.message;
    }
  };
  return h("form", { id: "outcome-form", class: "count-form", onsubmit },
    h("p", {}, h("label", { for: "outcome-select" }, t("cases.outcome")), " ",
      h("select", { id: "outcome-select", name: "outcome", required: true },
        OUTCOMES.map((id) => h("option", { value: id }, term("outcome", id))))),
    h("p", {}, h("label", { for: "outcome-note" }, t("cases.note")),
      h("textarea", { id: "outcome-note", name: "note", rows: 2, maxlength: 4000 })),
    h("p", {}, h("label", { for: "outcome-amount" }, t("cases.loss_amount")), " ",
      h("input", { id: "outcome-amount", name: "loss_amount", inputmode: "decimal", pattern: "\\d+(\\.\\d{1,2})?" }), " ",
      h("label", { for: "outcome-currency" }, t("cases.loss_currency")), " ",
      h("input", { id: "outcome-currency", name: "loss_currency", value: "CNY", maxlength: 3, size: 4, pattern: "[A-Z]{3}" })),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit", id: "outcome-submit" }, resolved ? t("cases.record_outcome") : t("cases.resolve_with_outcome")));
}
