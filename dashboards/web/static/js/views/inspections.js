// Inspection tasks: lots that are unverified or have a critical alert open, each due for a
// physical count by its deadline. Staff record counts here; a lender sees its own lots' tasks.

import { fill, h, section, table } from "../dom.js";
import { countdown, dateTime } from "../format.js";
import { t, term } from "../i18n.js";
import { keptForm, loanLink } from "./common.js";

export const refreshOn = ["inspection.", "alert."];
const STATE_ORDER = ["overdue", "open", "done"];

function deadline(task) {
  if (task.state === "done") return dateTime(task.deadline_s);
  return h("span", { class: "countdown" },
    h("time", { datetime: new Date(task.deadline_s * 1000).toISOString() }, dateTime(task.deadline_s)), " ",
    h("span", { "data-deadline": task.deadline_s, role: "timer" }, countdown(task.deadline_s - Date.now() / 1000)));
}

function tasksTable(tasks, app) {
  const sorted = [...tasks].sort((a, b) =>
    STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state) || a.deadline_s - b.deadline_s);
  const rows = sorted.map((task) => h("tr", { id: `task-${task.lot}`, "data-state": task.state },
    h("th", { scope: "row" }, task.lot),
    h("td", {}, task.loan ? loanLink(task.loan) : "—"),
    h("td", {}, task.reasons.map((type, index) => [index ? t("list.comma") : "", term("alert_type", type)])),
    h("td", {}, dateTime(task.opened_at_s)),
    h("td", {}, deadline(task)),
    h("td", { "data-field": "state" }, h("span", { class: `badge task-${task.state}` }, t(`inspections.state.${task.state}`))),
    app.isStaff && h("td", { class: "actions" }, task.state !== "done" && h("a", {
      href: `#/inspections?lot=${encodeURIComponent(task.lot)}`, id: `count-${task.lot}` }, t("inspections.record")))));
  if (!rows.length) return h("p", { class: "empty" }, t("inspections.none"));
  const columns = ["lot", "loan", "reasons", "opened", "deadline", "state", ...(app.isStaff ? ["actions"] : [])];
  return table(t("inspections.caption"), columns.map((key) => t(`inspections.column.${key}`)), rows,
    { id: "inspections-table", stack: true });
}

function field(name, labelKey, attributes) {
  return h("p", {}, h("label", { for: `count-${name}` }, t(labelKey)), " ",
    h("input", { id: `count-${name}`, name, ...attributes }));
}

async function submitCount(event, app) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = form.querySelector(".error");
  const body = { lot: form.lot.value, items: Number(form.items.value), quantity: form.quantity.value,
    note: form.note.value };
  if (form.temperature_c.value !== "") body.temperature_c = Number(form.temperature_c.value);
  try {
    await app.api.post("/inspections", body);
    form.reset();
    error.textContent = "";
    app.toast(t("toast.count_recorded", { lot: body.lot }));
    app.refresh();
  } catch (failure) {
    error.textContent = failure.message;
  }
}

// A row's "Record count" link names its lot: the form takes it once (a live refresh keeps
// whatever lot the supervisor picked since).
function chosenLot(form, query) {
  const lot = query.get("lot");
  if (lot && form.dataset.chosen !== lot) {
    form.lot.value = lot;
    form.dataset.chosen = lot;
  }
  return form;
}

// Staff only: a supervisor's physical count of one lot (items, quantity, temperature, note).
function countForm(app) {
  const lots = app.layout.warehouses.flatMap((warehouse) => warehouse.lots).sort();
  return h("form", { id: "count-form", class: "count-form", onsubmit: (event) => submitCount(event, app) },
    h("p", {}, h("label", { for: "count-lot" }, t("inspections.form.lot")), " ",
      h("select", { id: "count-lot", name: "lot", required: true },
        lots.map((id) => h("option", { value: id }, id)))),
    field("items", "inspections.form.items", { type: "number", min: 0, step: 1, required: true }),
    field("quantity", "inspections.form.quantity", { type: "number", min: 0, step: "any", required: true }),
    field("temperature_c", "inspections.form.temperature_c", { type: "number", min: -100, max: 100, step: "any" }),
    h("p", {}, h("label", { for: "count-note" }, t("inspections.form.note")), " ",
      h("textarea", { id: "count-note", name: "note", rows: 2, maxlength: 2000 })),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit", id: "count-submit" }, t("inspections.form.submit")));
}

export async function render(root, app, { query }) {
  const tasks = await app.api.get("/inspections");
  fill(root,
    h("h1", {}, t("inspections.title")),
    h("p", { class: "hint" }, t("inspections.hint")),
    section(t("inspections.heading.tasks"), tasksTable(tasks, app)),
    app.isStaff && section(t("inspections.heading.count"), chosenLot(keptForm(root, "count-form", () => countForm(app)), query)));
}
