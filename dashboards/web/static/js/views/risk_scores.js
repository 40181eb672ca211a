// Risk scores (GET /api/v1/risk-scores): per warehouse, gateway, borrower or commodity, from the
// history the caller may see (a bank: its own loans' alerts and counts), each with its inputs.
// A sortable table: a column's button sorts by it, again to reverse.

import { h, section } from "../dom.js";
import { label, number } from "../format.js";
import { t, term } from "../i18n.js";

const KINDS = ["warehouse", "gateway", "borrower", "commodity"];
const COLUMNS = ["id", "score", "alerts", "confirmed_losses", "inspections", "sensor_faults", "blind_hours"];
const state = { kind: "warehouse", column: "score", descending: true };

function sortValue(row, column) {
  const inputs = row.inputs;
  return {
    id: row.id, score: row.score, alerts: row.contributions.alerts,
    confirmed_losses: inputs.confirmed_losses.decayed, inspections: inputs.inspections.count,
    sensor_faults: inputs.sensor_faults.decayed, blind_hours: inputs.blind_hours,
  }[column];
}

function sorted(rows) {
  const { column, descending } = state;
  const order = (a, b) => {
    const [x, y] = [sortValue(a, column), sortValue(b, column)];
    const compared = typeof x === "string" ? x.localeCompare(y) : x - y;
    return (descending ? -compared : compared) || a.id.localeCompare(b.id);
  };
  return [...rows].sort(order);
}

function alertsCell(row) {
  const types = Object.entries(row.inputs.alerts)
    .map(([type, tally]) => t("risk.scores.alert_count", { type: term("alert_type", type), count: tally.count }));
  return types.join(t("list.comma")) || "—";
}

function tallyCell(tally) {
  return tally.count ? t("risk.scores.tally", { count: tally.count, decayed: number(tally.decayed, 2) }) : "0";
}

function scoreRow(row, kind) {
  const inputs = row.inputs;
  const points = Object.entries(row.contributions).filter(([, value]) => value > 0)
    .map(([name, value]) => t("risk.scores.points", { term: t(`risk.scores.term.${name}`), points: number(value, 2) }));
  return h("tr", { "data-entity": row.id },
    h("th", { scope: "row" }, kind === "commodity" ? label(row.id) : row.id),
    h("td", { class: "num", "data-field": "score", title: points.join(t("list.semicolon")) }, number(row.score, 2)),
    h("td", { "data-field": "alerts" }, alertsCell(row)),
    h("td", { class: "num", "data-field": "confirmed_losses" }, tallyCell(inputs.confirmed_losses)),
    h("td", { class: "num", "data-field": "inspections" }, String(inputs.inspections.count)),
    h("td", { class: "num", "data-field": "sensor_faults" }, tallyCell(inputs.sensor_faults)),
    h("td", { class: "num", "data-field": "blind_hours" }, number(inputs.blind_hours, 1)));
}

function header(column, redraw) {
  const active = state.column === column;
  const sort = active ? (state.descending ? "descending" : "ascending") : "none";
  const click = () => {
    state.descending = active ? !state.descending : column !== "id";
    state.column = column;
    redraw();
  };
  return h("th", { scope: "col", "aria-sort": sort },
    h("button", { type: "button", class: "sort", "data-column": column, onclick: click }, t(`risk.scores.column.${column}`),
      active ? (state.descending ? " ▼" : " ▲") : ""));
}

function scoresTable(answer, redraw) {
  if (!answer.scores.length) return h("p", { class: "empty", id: "risk-scores-table" }, t("risk.scores.none"));
  const caption = t("risk.scores.caption", { kind: t(`risk.scores.kind.${answer.kind}`), days: number(answer.half_life_days, 0) });
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption },
    h("table", { id: "risk-scores-table", "data-kind": answer.kind },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, COLUMNS.map((column) => header(column, redraw)))),
      h("tbody", {}, sorted(answer.scores).map((row) => scoreRow(row, answer.kind)))));
}

async function load(app, holder) {
  try {
    const answer = await app.api.get("/risk-scores", { kind: state.kind });
    const redraw = () => holder.replaceChildren(scoresTable(answer, redraw));
    redraw();
  } catch (failure) {
    holder.replaceChildren(h("p", { class: "error", role: "alert" }, failure.message));
  }
}

export function scoresSection(app) {
  const holder = h("div", { id: "risk-scores" }, h("p", { class: "empty" }, t("risk.scores.loading")));
  const choose = (event) => {
    state.kind = event.currentTarget.value;
    load(app, holder);
  };
  const picker = h("select", { id: "risk-scores-kind", onchange: choose },
    KINDS.map((kind) => h("option", { value: kind, selected: kind === state.kind }, t(`risk.scores.kind.${kind}`))));
  load(app, holder);
  return section(t("risk.scores.title"),
    h("p", { id: "risk-scores-intro" }, t(app.isStaff ? "risk.scores.intro_book" : "risk.scores.intro_lender")),
    h("p", {}, h("label", { for: "risk-scores-kind" }, t("risk.scores.by")), " ", picker),
    holder);
}
