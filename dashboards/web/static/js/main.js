// The dashboard's shell: sign-in, the hash router, live events, toasts and the alert dialog.

import { makeApi } from "./api.js";
import { h } from "./dom.js";
import { connectEvents } from "./events.js";
import { countdown, label } from "./format.js";
import * as alerts from "./views/alerts.js";
import * as loan from "./views/loan.js";
import * as loans from "./views/loans.js";
import * as overview from "./views/overview.js";
import * as prices from "./views/prices.js";
import * as warehouse from "./views/warehouse.js";
import * as warehouses from "./views/warehouses.js";

const KEY_SLOT = "pledgewatch.apiKey";
const REFRESH_DELAY_MS = 250;
const TOAST_MS = 8000;
const STAFF = ["admin", "supervisor"];
const LIVE_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", unauthorized: "Signed out" };

const byId = (id) => document.getElementById(id);
const app = { api: null, layout: null, caller: null, isStaff: false, alertAction: openAlertDialog };
let stopEvents = null;
let currentView = null;
let renderCount = 0;
let refreshTimer = null;
let focusPending = false; // a navigation asked to move focus to the new view's heading

// "#/loans/loan-1" → {view, params: {id: "loan-1", query}}
function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, id] = path.split("/").map(decodeURIComponent);
  const query = new URLSearchParams(search);
  const views = { overview, loans, warehouses, alerts, prices };
  if (name === "loans" && id) return { name, view: loan, params: { id, query } };
  if (name === "warehouses" && id) return { name, view: warehouse, params: { id, query } };
  return { name: views[name] ? name : "overview", view: views[name] ?? overview, params: { query } };
}

function markCurrentNav(name) {
  for (const link of byId("nav").querySelectorAll("a")) {
    if (link.getAttribute("href") === `#/${name}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function show({ moveFocus }) {
  if (moveFocus) focusPending = true; // kept if a live refresh overtakes this render
  const { name, view, params } = route();
  const token = ++renderCount;
  const content = h("div");
  try {
    await view.render(content, app, params);
  } catch (error) {
    content.replaceChildren(h("h1", {}, "Could not load this view"), h("p", { class: "error", role: "alert" }, String(error.message)));
  }
  if (token !== renderCount || !app.api) return; // a newer render (or sign-out) won
  const focusedId = document.activeElement?.id;
  byId("view").replaceChildren(...content.childNodes);
  byId("view").dataset.shown = location.hash; // what is on screen (tests wait for it)
  currentView = view;
  markCurrentNav(name);
  const heading = byId("view").querySelector("h1");
  if (focusPending && heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  } else if (focusedId && byId(focusedId)) byId(focusedId).focus();
  focusPending = false;
  document.title = `${byId("view").querySelector("h1")?.textContent ?? "Dashboard"} — PledgeWatch`;
}

function refreshSoon() {
  if (document.querySelector("dialog[open]")) return; // refreshed when the dialog closes
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => show({ moveFocus: false }), REFRESH_DELAY_MS);
}

async function refreshOpenAlertCount() {
  const open = await app.api.get("/alerts", { state: "open", limit: 1000 });
  byId("open-alert-count").textContent = open.length ? `(${open.length})` : "";
}

function toast(text) {
  const note = h("p", { class: "toast" }, text);
  byId("toasts").append(note);
  setTimeout(() => note.remove(), TOAST_MS);
}

function describeAlert(data) {
  const about = data.loan ?? data.lot ?? data.gateway ?? "";
  return `${label(data.type)}${about ? ` (${about})` : ""}`;
}

function onEvent(event) {
  if (event.type === "alert.opened") toast(`New alert: ${describeAlert(event.data)}`);
  if (event.type === "loan.status_changed") toast(`Loan ${event.data.id}: ${label(event.data.previous)} → ${label(event.data.status)}`);
  if (event.type.startsWith("alert.")) refreshOpenAlertCount().catch(() => {});
  if (currentView?.refreshOn.some((prefix) => event.type.startsWith(prefix))) refreshSoon();
}

function onLiveState(state) {
  const badge = byId("live-state");
  badge.dataset.state = state;
  badge.textContent = LIVE_TEXT[state];
  if (state === "unauthorized") signOut("Your key is no longer accepted. Sign in again.");
  else if (state === "live") refreshSoon(); // events may have been missed while away
}

function tickCountdowns() {
  const nowS = Date.now() / 1000;
  for (const timer of document.querySelectorAll("[data-deadline]")) {
    timer.textContent = countdown(Number(timer.dataset.deadline) - nowS);
  }
}

async function start(key) {
  const api = makeApi(key, () => signOut("Your key is no longer accepted. Sign in again."));
  const layout = await api.get("/dashboard/layout");
  Object.assign(app, { api, layout, caller: layout.caller, isStaff: STAFF.includes(layout.caller.role) });
  byId("caller-name").textContent = layout.caller.lender ? `${layout.caller.name} (${layout.caller.lender})` : layout.caller.name;
  byId("sign-in").hidden = true;
  byId("nav").hidden = byId("session").hidden = byId("view").hidden = false;
  stopEvents = connectEvents(key, { onEvent, onState: onLiveState });
  await Promise.all([show({ moveFocus: false }), refreshOpenAlertCount()]);
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY_SLOT);
  stopEvents?.();
  Object.assign(app, { api: null, layout: null, caller: null, isStaff: false });
  byId("view").replaceChildren();
  byId("nav").hidden = byId("session").hidden = byId("view").hidden = true;
  byId("sign-in").hidden = false;
  byId("sign-in-error").textContent = message;
  byId("api-key").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const key = byId("api-key").value.trim();
  byId("sign-in-error").textContent = "";
  try {
    await start(key);
    sessionStorage.setItem(KEY_SLOT, key);
    byId("api-key").value = "";
  } catch (error) {
    stopEvents?.();
    byId("sign-in-error").textContent = error.status === 401 ? "This key was not accepted." : `Could not sign in: ${error.message}`;
  }
}

// The acknowledge / resolve dialog (one for the page, so live refreshes never close it).
function openAlertDialog(alert, action) {
  const dialog = byId("alert-dialog");
  const acknowledging = action === "acknowledge";
  byId("alert-dialog-title").textContent = `${acknowledging ? "Acknowledge" : "Resolve"} ${label(alert.type)}`;
  byId("alert-dialog-about").textContent = describeAlert(alert);
  byId("alert-note-field").hidden = !acknowledging;
  byId("alert-note").value = "";
  byId("alert-dialog-error").textContent = "";
  byId("alert-dialog-confirm").textContent = acknowledging ? "Acknowledge" : "Resolve";
  dialog.dataset.alertId = alert.id;
  dialog.dataset.action = action;
  dialog.showModal();
}

async function onAlertDialogSubmit(event) {
  event.preventDefault();
  const dialog = byId("alert-dialog");
  const { alertId, action } = dialog.dataset;
  const path = `/alerts/${encodeURIComponent(alertId)}/${action === "acknowledge" ? "ack" : "resolve"}`;
  try {
    await app.api.post(path, action === "acknowledge" ? { note: byId("alert-note").value || null } : {});
    dialog.close();
    toast(`Alert ${action === "acknowledge" ? "acknowledged" : "resolved"}.`);
  } catch (error) {
    byId("alert-dialog-error").textContent = error.message;
  }
}

function init() {
  byId("sign-in-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", () => signOut());
  byId("alert-dialog-form").addEventListener("submit", onAlertDialogSubmit);
  byId("alert-dialog-cancel").addEventListener("click", () => byId("alert-dialog").close());
  byId("alert-dialog").addEventListener("close", () => app.api && refreshSoon());
  window.addEventListener("hashchange", () => app.api && show({ moveFocus: true }));
  setInterval(tickCountdowns, 1000);
  const key = sessionStorage.getItem(KEY_SLOT);
  if (key) start(key).catch(() => signOut("Your session has ended. Sign in again."));
  else signOut();
}

init();
