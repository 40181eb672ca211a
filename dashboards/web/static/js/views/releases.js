// Releases, maker-checker: the borrower (or staff) asks for goods to leave, the loan's lender
// approves (a signed delivery order names the EPCs) or refuses, and the warehouse sees its
// delivery orders and acknowledges them. Each role sees only what it may act on.

import { fill, h, section, table } from "../dom.js";
import { dateTime } from "../format.js";
import { t } from "../i18n.js";
import { keptForm, loanLink } from "./common.js";

export const refreshOn = ["alert.", "loan."];
const REQUESTERS = ["admin", "supervisor", "borrower"];
const DECIDERS = ["admin", "lender"];
const KEEPERS = ["admin", "warehouse"];

async function act(app, path, body, done) {
  try {
    await app.api.post(path, body);
    app.toast(done);
    app.refresh();
  } catch (failure) {
    app.toast(failure.message);
  }
}

function decisionButtons(request, app) {
  if (request.state !== "pending" || !DECIDERS.includes(app.caller.role) || request.requested_by === app.caller.name) {
    return null;
  }
  const base = `/loans/${encodeURIComponent(request.loan)}/releases/${encodeURIComponent(request.id)}`;
  return [
    h("button", { type: "button", id: `approve-${request.id}`,
      onclick: () => act(app, `${base}/approve`, undefined, t("releases.toast.approved", { id: request.id })) },
    t("releases.approve")), " ",
    h("button", { type: "button", id: `refuse-${request.id}`, onclick: () => {
      const reason = window.prompt(t("releases.refuse_reason"));
      if (reason) act(app, `${base}/refuse`, { reason }, t("releases.toast.refused", { id: request.id }));
    } }, t("releases.refuse"))];
}

function requestsTable(requests, app) {
  if (!requests.length) return h("p", { class: "empty" }, t("releases.none"));
  const rows = requests.map((request) => h("tr", { id: `release-${request.id}`, "data-state": request.state },
    h("th", { scope: "row" }, request.id),
    h("td", {}, loanLink(request.loan)),
    h("td", {}, request.lot),
    h("td", {}, request.epcs ? request.epcs.length : request.items),
    h("td", {}, request.requested_by),
    h("td", { "data-field": "state" }, h("span", { class: `badge release-${request.state}` },
      t(`releases.state.${request.state}`))),
    h("td", {}, request.decided_by ?? "—"),
    h("td", { class: "actions" }, decisionButtons(request, app) ?? (request.reason || "—"))));
  const columns = ["id", "loan", "lot", "items", "requested_by", "state", "decided_by", "actions"];
  return table(t("releases.caption"), columns.map((key) => t(`releases.column.${key}`)), rows,
    { id: "releases-table", stack: true });
}

// Opens the signed order's printable page: fetched with the caller's key, shown from memory.
async function printOrder(app, order) {
  try {
    const html = await app.api.text(`/delivery-orders/${encodeURIComponent(order.id)}/print`);
    window.open(URL.createObjectURL(new Blob([html], { type: "text/html" })), "_blank");
  } catch (failure) {
    app.toast(failure.message);
  }
}

function ordersTable(orders, app) {
  if (!orders.length) return h("p", { class: "empty" }, t("releases.orders.none"));
  const rows = orders.map((order) => h("tr", { id: `order-${order.id}`, "data-state": order.state },
    h("th", { scope: "row" }, order.id),
    h("td", {}, order.lot),
    h("td", {}, order.warehouse),
    h("td", {}, order.epcs.length),
    h("td", {}, dateTime(order.valid_until_s)),
    h("td", { "data-field": "state" }, h("span", { class: `badge order-${order.state}` },
      t(`releases.order_state.${order.state}`))),
    h("td", {}, order.acknowledged_by ?? "—"),
    h("td", { class: "actions" },
      h("button", { type: "button", id: `print-${order.id}`, onclick: () => printOrder(app, order) },
        t("releases.print")), " ",
      order.state === "issued" && KEEPERS.includes(app.caller.role) && h("button", {
        type: "button", id: `acknowledge-${order.id}`,
        onclick: () => act(app, `/delivery-orders/${encodeURIComponent(order.id)}/acknowledge`, undefined,
          t("releases.toast.acknowledged", { id: order.id })) }, t("releases.acknowledge")))));
  const columns = ["id", "lot", "warehouse", "items", "valid_until", "state", "acknowledged_by", "actions"];
  return table(t("releases.orders.caption"), columns.map((key) => t(`releases.orders.column.${key}`)), rows,
    { id: "orders-table", stack: true });
}

async function submitRequest(event, app) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = form.querySelector(".error");
  const [loan, lot] = form.lot.value.split("|");
  const epcs = form.epcs.value.split(/[\s,]+/).filter(Boolean);
  const body = epcs.length ? { lot, epcs } : { lot, items: Number(form.items.value) };
  if (form.repayment.value) body.repayment = form.repayment.value;
  try {
    await app.api.post(`/loans/${encodeURIComponent(loan)}/releases`, body);
    form.reset();
    error.textContent = "";
    app.toast(t("releases.toast.requested", { lot }));
    app.refresh();
  } catch (failure) {
    error.textContent = failure.message;
  }
}

function requestForm(loans, app) {
  const choices = loans.flatMap((loan) => loan.lots.map((lot) => h("option", { value: `${loan.id}|${lot}` },
    `${loan.id} · ${lot}`)));
  return h("form", { id: "release-form", class: "count-form", onsubmit: (event) => submitRequest(event, app) },
    h("p", {}, h("label", { for: "release-lot" }, t("releases.form.lot")), " ",
      h("select", { id: "release-lot", name: "lot", required: true }, choices)),
    h("p", {}, h("label", { for: "release-items" }, t("releases.form.items")), " ",
      h("input", { id: "release-items", name: "items", type: "number", min: 1, step: 1, value: 1 })),
    h("p", {}, h("label", { for: "release-epcs" }, t("releases.form.epcs")), " ",
      h("textarea", { id: "release-epcs", name: "epcs", rows: 2 })),
    h("p", {}, h("label", { for: "release-repayment" }, t("releases.form.repayment")), " ",
      h("input", { id: "release-repayment", name: "repayment" })),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit", id: "release-submit" }, t("releases.form.submit")));
}

export async function render(root, app) {
  const [loans, orders] = await Promise.all([app.api.get("/loans"), app.api.get("/delivery-orders")]);
  const requests = (await Promise.all(loans.map((loan) =>
    app.api.get(`/loans/${encodeURIComponent(loan.id)}/releases`)))).flat().sort((a, b) => b.at_s - a.at_s);
  fill(root,
    h("h1", {}, t("releases.title")),
    h("p", { class: "hint" }, t(`releases.hint.${app.caller.role}`)),
    loans.length > 0 && section(t("releases.heading.requests"), requestsTable(requests, app)),
    REQUESTERS.includes(app.caller.role) && loans.length > 0 &&
      section(t("releases.heading.request"), keptForm(root, "release-form", () => requestForm(loans, app))),
    section(t("releases.heading.orders"), ordersTable(orders, app)));
}
