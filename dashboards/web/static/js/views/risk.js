// Risk: stress tests of the caller's loans (staff: the whole book) through POST /api/v1/stress.
// A deterministic shock (prices, FX rates, warehouses lost) gives the loans by status after it,
// the margin calls with their cure amounts and the shortfall per lender; a Monte Carlo of price
// paths gives each loan's LTV distribution at the horizon and the shortfall over the paths.
// Above them, the risk scores of warehouses, gateways, borrowers and commodities (risk_scores.js).

import { barChart } from "../charts.js";
import { h, s, section, statusBadge, table } from "../dom.js";
import { label, money, number, percent } from "../format.js";
import { t, term } from "../i18n.js";
import { STATUS_ORDER, keptForm, loanLink } from "./common.js";
import { scoresSection } from "./risk_scores.js";

export const refreshOn = []; // a run's answer stays on screen until the next run
const MAX_LOANS = 200;
let last = null; // {who, answer}: the caller's last run, shown again when the view re-renders

function field(name, labelKey, attributes) {
  return h("p", {}, h("label", { for: `risk-${name}` }, t(labelKey)), " ",
    h("input", { id: `risk-${name}`, name, ...attributes }));
}

function requestOf(form) {
  const body = {
    shocks: form.shocks.value.split(/[,;\s]+/).filter(Boolean),
    warehouses_lost: [...form.querySelectorAll("input[name=lost]:checked")].map((box) => box.value),
    max_loans: MAX_LOANS,
    monte_carlo: null,
  };
  if (form.monte_carlo.checked) {
    body.monte_carlo = { horizon_days: Number(form.horizon.value), paths: Number(form.paths.value), seed: Number(form.seed.value) };
    if (form.fallback.value !== "") body.monte_carlo.fallback_volatility = Number(form.fallback.value) / 100;
  }
  return body;
}

async function run(event, app) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = form.querySelector(".error");
  const button = form.querySelector("button");
  error.textContent = "";
  button.disabled = true;
  button.textContent = t("risk.running");
  try {
    last = { who: app.caller.name, answer: await app.api.post("/stress", requestOf(form)) };
    document.getElementById("risk-results").replaceChildren(...results(last.answer));
  } catch (failure) {
    error.textContent = failure.message;
  } finally {
    button.disabled = false;
    button.textContent = t("risk.form.run");
  }
}

function stressForm(app) {
  const lost = app.layout.warehouses.map((warehouse) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "lost", value: warehouse.id, id: `risk-lost-${warehouse.id}` }), " ", warehouse.id));
  return h("form", { id: "risk-form", class: "count-form", onsubmit: (event) => run(event, app) },
    field("shocks", "risk.form.shocks", { type: "text", placeholder: "steel_coil=-20%, USD/CNY=+5%", autocomplete: "off" }),
    h("fieldset", {}, h("legend", {}, t("risk.form.lost")), lost),
    h("p", {}, h("label", { class: "check" }, h("input", { type: "checkbox", id: "risk-monte_carlo", name: "monte_carlo" }),
      " ", t("risk.form.monte_carlo"))),
    field("horizon", "risk.form.horizon", { type: "number", min: 1, max: 365, step: 1, value: 30, required: true }),
    field("paths", "risk.form.paths", { type: "number", min: 10, max: 100000, step: 1, value: 1000, required: true }),
    field("seed", "risk.form.seed", { type: "number", min: 0, step: 1, value: 1, required: true }),
    field("fallback", "risk.form.fallback", { type: "number", min: 0.01, max: 100, step: "any" }),
    h("p", {}, h("button", { type: "submit", id: "risk-run" }, t("risk.form.run"))),
    h("p", { class: "error", role: "alert" }));
}

function shockWords(shock) {
  const moves = [...Object.entries(shock.prices), ...Object.entries(shock.fx)]
    .map(([name, move]) => `${label(name)} ${Number(move) >= 0 ? "+" : ""}${number(Number(move) * 100, 2)} %`);
  const lost = shock.warehouses_lost.map((warehouse) => t("risk.shock.lost", { warehouse }));
  return [...moves, ...lost].join(t("list.comma")) || t("risk.shock.no_shock");
}

function statusTable(shock) {
  const rows = STATUS_ORDER.map((status) => h("tr", { "data-status": status },
    h("th", { scope: "row" }, statusBadge(status)),
    h("td", { class: "num", "data-field": "before" }, String(shock.by_status_before[status])),
    h("td", { class: "num", "data-field": "after" }, String(shock.by_status_after[status]))));
  return table(t("risk.status.caption"), ["status", "before", "after"].map((key) => t(`risk.status.column.${key}`)), rows,
    { id: "risk-status" });
}

function callsTable(shock) {
  if (!shock.margin_calls.length) return h("p", { class: "empty", id: "risk-calls" }, t("risk.calls.none"));
  const rows = shock.margin_calls.map((call) => h("tr", { "data-loan": call.loan },
    h("th", { scope: "row" }, loanLink(call.loan)),
    h("td", {}, call.lender),
    h("td", {}, statusBadge(call.status)),
    h("td", { class: "num", "data-field": "ltv" }, percent(call.ltv)),
    h("td", { class: "num", "data-field": "cure_amount" }, money(call.cure_amount, call.currency)),
    h("td", {}, call.new ? t("risk.calls.new") : "")));
  return table(t("risk.calls.caption"), ["loan", "lender", "status", "ltv", "cure", "new"].map((key) => t(`risk.calls.column.${key}`)),
    rows, { id: "risk-calls", stack: true });
}

function shortfallTable(rows, id, name, caption, amounts) {
  const body = rows.map((row) => h("tr", { [`data-${name}`]: row[name] },
    h("th", { scope: "row" }, name === "commodity" ? label(row[name]) : row[name]),
    amounts.map((field) => h("td", { class: "num", "data-field": field }, money(row[field], row.currency)))));
  return table(caption, [name, ...amounts].map((key) => t(`risk.column.${key}`)), body, { id });
}

function shockResults(shock) {
  const bars = STATUS_ORDER.map((status) => ({ label: term("status", status), value: shock.by_status_after[status], cls: `status-${status}` }));
  return section(t("risk.shock.title"),
    h("p", { id: "risk-shock-summary" }, t("risk.shock.summary", { loans: shock.loans_total, shock: shockWords(shock.shock) })),
    barChart({ title: t("risk.by_status"), bars }),
    statusTable(shock),
    h("h3", {}, t("risk.calls.title")), callsTable(shock),
    h("h3", {}, t("risk.shortfall.title")),
    shortfallTable(shock.shortfall_by_lender, "risk-shortfall", "lender", t("risk.shortfall.caption"), ["shortfall"]));
}

// One row per loan: whiskers from the 1st to the 99th percentile, bars from the 5th to the 95th
// and the 25th to the 75th, a tick at the median; the loan's margin-call and liquidation levels.
function distributionChart(run) {
  const at = (name) => run.percentiles.indexOf(name);
  const loans = run.loans.filter((loan) => loan.ltv_percentiles.every((value) => value !== null));
  if (!loans.length) return h("p", { class: "empty" }, t("chart.nothing"));
  const top = Math.min(3, Math.max(1.05, ...loans.flatMap((loan) => [loan.ltv_percentiles[at(99)], loan.thresholds.liquidation])) * 1.05);
  const width = 560, left = 150, right = 10, rowHeight = 26;
  const x = (ltv) => left + Math.min(ltv, top) / top * (width - left - right);
  const rows = loans.map((loan, index) => {
    const y = 6 + index * rowHeight;
    const p = (name) => x(loan.ltv_percentiles[at(name)]);
    return s("g", { class: "ltv-row", "data-loan": loan.loan },
      s("text", { x: left - 8, y: y + 15, "text-anchor": "end" }, loan.loan),
      s("line", { class: "whisker", x1: p(1), x2: p(99), y1: y + 11, y2: y + 11 }),
      s("rect", { class: "outer", x: p(5), y: y + 5, width: Math.max(1, p(95) - p(5)), height: 12 }),
      s("rect", { class: "inner", x: p(25), y: y + 3, width: Math.max(1, p(75) - p(25)), height: 16 }),
      s("line", { class: "median", x1: p(50), x2: p(50), y1: y + 1, y2: y + 21 }),
      ["margin_call", "liquidation"].map((level) => s("line", { class: `level ${level}`,
        x1: x(loan.thresholds[level]), x2: x(loan.thresholds[level]), y1: y, y2: y + 22 })));
  });
  const height = loans.length * rowHeight + 30;
  const ticks = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3].filter((tick) => tick <= top).map((tick) => s("g", { class: "tick" },
    s("line", { x1: x(tick), x2: x(tick), y1: 2, y2: height - 22 }),
    s("text", { x: x(tick), y: height - 8, "text-anchor": "middle" }, percent(tick))));
  const description = loans.map((loan) => t("risk.mc.distribution_row", { loan: loan.loan,
    p5: percent(loan.ltv_percentiles[at(5)]), p50: percent(loan.ltv_percentiles[at(50)]),
    p95: percent(loan.ltv_percentiles[at(95)]), p99: percent(loan.ltv_percentiles[at(99)]) })).join(t("list.semicolon"));
  const title = t("risk.mc.distribution", { days: run.horizon_days });
  return h("figure", { class: "chart-box", id: "risk-distribution" }, h("figcaption", {}, title),
    s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart ltv-chart", "aria-label": `${title}: ${description}` },
      ticks, rows));
}

function loansTable(run) {
  const at = (name) => run.percentiles.indexOf(name);
  const rows = run.loans.map((loan) => h("tr", { "data-loan": loan.loan },
    h("th", { scope: "row" }, loanLink(loan.loan)),
    h("td", { class: "num", "data-field": "ltv" }, percent(loan.ltv)),
    h("td", { class: "num", "data-field": "p50" }, percent(loan.ltv_percentiles[at(50)])),
    h("td", { class: "num", "data-field": "p99" }, percent(loan.ltv_percentiles[at(99)])),
    h("td", { class: "num", "data-field": "p_margin_call" }, percent(loan.p_margin_call)),
    h("td", { class: "num", "data-field": "p_default" }, percent(loan.p_default)),
    h("td", { class: "num", "data-field": "expected_shortfall" }, money(loan.expected_shortfall, loan.currency))));
  const columns = ["loan", "ltv", "p50", "p99_ltv", "p_margin_call", "p_default", "expected_shortfall"];
  return table(t("risk.mc.loans_caption", { days: run.horizon_days }), columns.map((key) => t(`risk.column.${key}`)), rows,
    { id: "risk-mc-loans", stack: true });
}

function monteCarloResults(run) {
  const model = run.model.commodities.map((c) => t("risk.mc.volatility", { commodity: label(c.commodity),
    volatility: percent(c.volatility_daily), source: c.fallback ? t("risk.mc.fallback") : t("risk.mc.returns", { count: c.returns }) }));
  const tails = ["expected", "p99", "tail_99"];
  return section(t("risk.mc.title"),
    h("p", { id: "risk-mc-summary" }, t("risk.mc.summary", { paths: run.paths, days: run.horizon_days, seed: run.seed, decay: run.decay })),
    h("p", {}, model.join(t("list.semicolon"))),
    distributionChart(run),
    loansTable(run),
    shortfallTable(run.shortfall_by_lender, "risk-mc-lenders", "lender", t("risk.mc.lenders_caption"), tails),
    shortfallTable(run.shortfall_by_commodity, "risk-mc-commodities", "commodity", t("risk.mc.commodities_caption"), tails));
}

function results(answer) {
  return [shockResults(answer.shock), answer.monte_carlo && monteCarloResults(answer.monte_carlo)].filter(Boolean);
}

export async function render(root, app) {
  const mine = last && last.who === app.caller.name ? last.answer : null;
  root.append(h("h1", {}, t("risk.title")),
    h("p", { class: "subtitle" }, t(app.isStaff ? "risk.intro_book" : "risk.intro_lender")),
    scoresSection(app),
    section(t("risk.form.title"), keptForm(root, "risk-form", () => stressForm(app), app.caller.name)),
    h("div", { id: "risk-results" }, mine ? results(mine) : h("p", { class: "empty" }, t("risk.none"))));
}
