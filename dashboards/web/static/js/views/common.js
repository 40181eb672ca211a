// Pieces several views share: the loans table, the lots table, the cure countdown.

import { h, statusBadge, table } from "../dom.js";
import { countdown, dateTime, label, money, percent, quantity } from "../format.js";
import { t, tParts } from "../i18n.js";

export const STATUS_ORDER = ["normal", "warning", "margin_call", "liquidation", "default"];

export const loanLink = (id) => h("a", { href: `#/loans/${encodeURIComponent(id)}` }, id);
export const warehouseLink = (id) => h("a", { href: `#/warehouses/${encodeURIComponent(id)}` }, id);

// Counts down to `deadlineS` (epoch seconds); main.js ticks every [data-deadline] each second.
export function cureCountdown(deadlineS) {
  if (deadlineS === null || deadlineS === undefined) return "—";
  return h("span", { class: "countdown" }, tParts("cure.countdown", {
    deadline: h("time", { datetime: new Date(deadlineS * 1000).toISOString() }, dateTime(deadlineS)),
    timer: h("span", { "data-deadline": deadlineS, role: "timer" }, countdown(deadlineS - Date.now() / 1000)),
  }));
}

function byLtvDescending(a, b) {
  return (b.ltv === null ? -1 : Number(b.ltv)) - (a.ltv === null ? -1 : Number(a.ltv));
}

export function loansTable(loans) {
  const rows = [...loans].sort(byLtvDescending).map((loan) => h("tr", { "data-loan": loan.id },
    h("th", { scope: "row" }, loanLink(loan.id)),
    h("td", {}, loan.lender),
    h("td", {}, loan.borrower),
    h("td", { "data-field": "status" }, statusBadge(loan.status)),
    h("td", { class: "num", "data-field": "ltv" }, percent(loan.ltv)),
    h("td", { class: "num", "data-field": "collateral_value" }, money(loan.collateral_value, loan.currency)),
    h("td", { class: "num", "data-field": "outstanding" }, money(loan.outstanding, loan.currency)),
    h("td", {}, cureCountdown(loan.cure_deadline_s))));
  return table(t("loans.caption"),
    ["loan", "lender", "borrower", "status", "ltv", "collateral_value", "outstanding", "cure_deadline"].map((key) => t(`loans.column.${key}`)),
    rows, { id: "loans-table" });
}

function health(ok) {
  if (ok === null || ok === undefined) return h("span", { class: "health unknown" }, t("health.no_data"));
  return h("span", { class: `health ${ok ? "ok" : "fault"}` }, ok ? t("health.ok") : t("health.fault"));
}

function coverage(lot) {
  if (lot.observed_quantity === null) return "—";
  const share = Number(lot.observed_quantity) / Number(lot.pledged_quantity);
  return h("meter", { min: 0, max: 1, low: 0.98, optimum: 1, value: Math.min(share, 1),
    "aria-label": t("lots.coverage_label", { lot: lot.id }) }, percent(share));
}

// lots: LotOut from /lots/{id}; units: commodity id → unit; loanLinks: false for a caller who
// may not open loans (a warehouse key sees which loan a lot backs, not the loan)
export function lotsTable(caption, lots, units, { loanLinks = true } = {}) {
  const rows = lots.map((lot) => h("tr", { "data-lot": lot.id },
    h("th", { scope: "row" }, lot.id),
    h("td", {}, warehouseLink(lot.warehouse)),
    h("td", {}, label(lot.commodity)),
    h("td", {}, lot.loan ? (loanLinks ? loanLink(lot.loan) : lot.loan) : "—"),
    h("td", { class: "num", "data-field": "pledged" }, quantity(lot.pledged_quantity, units[lot.commodity])),
    h("td", { class: "num", "data-field": "observed" }, quantity(lot.observed_quantity, units[lot.commodity])),
    h("td", {}, coverage(lot), " ", percent(lot.observed_quantity === null ? null
      : Number(lot.observed_quantity) / Number(lot.pledged_quantity))),
    h("td", { class: "num" }, lot.observed_items === null ? "—" : `${lot.observed_items} / ${lot.pledged_items}`),
    h("td", {}, health(lot.rfid_ok)),
    h("td", {}, health(lot.scale_ok))));
  const columns = ["lot", "warehouse", "commodity", "loan", "pledged", "observed", "coverage", "items_seen", "rfid", "scale"];
  return table(caption, columns.map((key) => t(`lots.column.${key}`)), rows);
}

export function unitsOf(layout) {
  return Object.fromEntries(layout.commodities.map((c) => [c.id, c.unit]));
}

let newestRoot = null; // the element the newest render builds its page in
let keptFocus = null; // the field being typed in when the newest render took its form

// main.js: a render starts building its page in `root`; any render still running has lost.
export function beginRender(root) {
  newestRoot = root;
  keptFocus = null;
}

// A form being filled in survives a live refresh: the same element moves to the new page,
// while it is for the same thing (`key`) in the same language; else `build()` makes a new one.
// Only the newest render takes it: a render that has lost is discarded, and would carry the
// form (and what was typed in it) off the page with it.
export function keptForm(root, id, build, key = "") {
  const kept = document.getElementById(id);
  const language = document.documentElement.lang;
  if (root === newestRoot && kept && kept.dataset.key === key && kept.dataset.language === language) {
    if (kept.contains(document.activeElement)) keptFocus = focusOf(document.activeElement);
    return kept;
  }
  const form = build();
  Object.assign(form.dataset, { key, language });
  return form;
}

function focusOf(field) {
  const caret = field.selectionStart ?? null; // null where there is none (a number, a select)
  return { field, selection: caret === null ? null : [caret, field.selectionEnd, field.selectionDirection] };
}

// main.js, once the page is on screen: moving a form off the page and back blurs the field
// being typed in, and the next keystrokes would go nowhere; focus (and caret) go back to it.
export function restoreKeptFocus() {
  const noted = keptFocus;
  keptFocus = null;
  if (!noted?.field.isConnected || document.activeElement !== document.body) return false;
  noted.field.focus();
  if (noted.selection) noted.field.setSelectionRange(...noted.selection);
  return true;
}
