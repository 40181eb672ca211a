// The dashboard's shell: sign-in, the hash router, live events, toasts, the alert dialog and
// the language chooser.

import { makeApi } from "./api.js";
import { h } from "./dom.js";
import { connectEvents } from "./events.js";
import { countdown } from "./format.js";
import { LANGUAGES, language, onLanguageChange, setLanguage, setText, t, term, translatePage } from "./i18n.js";
import * as alert from "./views/alert.js";
import * as alerts from "./views/alerts.js";
import { beginRender, restoreKeptFocus } from "./views/common.js";
import * as inspections from "./views/inspections.js";
import * as loan from "./views/loan.js";
import * as loans from "./views/loans.js";
import * as overview from "./views/overview.js";
import * as prices from "./views/prices.js";
import * as releases from "./views/releases.js";
import * as risk from "./views/risk.js";
import * as warehouse from "./views/warehouse.js";
import * as warehouses from "./views/warehouses.js";

const KEY_SLOT = "pledgewatch.apiKey";
const REFRESH_DELAY_MS = 250;
const TOAST_MS = 8000;
const STAFF = ["admin", "supervisor"];
const VIEWS = { overview, loans, warehouses, alerts, inspections, releases, prices, risk };
const DETAIL_VIEWS = { loans: loan, warehouses: warehouse, alerts: alert };
// The views a role has something in, its home first; the others' API answers would be empty
// (a borrower or a warehouse is addressed no alert) or refused (stress tests, for a warehouse
// loans). Other roles have every view.
const ROLE_VIEWS = {
  borrower: ["overview", "loans", "warehouses", "releases", "prices"],
  warehouse: ["warehouses", "releases"],
};
const viewsOf = (role) => ROLE_VIEWS[role] ?? Object.keys(VIEWS);

const byId = (id) => document.getElementById(id);
const app = { api: null, layout: null, caller: null, isStaff: false, views: [], alertAction: openAlertDialog,
  toast, refresh: () => refreshSoon(), may: (view) => app.views.includes(view) };
let stopEvents = null;
let currentView = null;
let renderCount = 0;
let refreshTimer = null;
let focusPending = false; // a navigation asked to move focus to the new view's heading

// "#/loans/loan-1" → {view, params: {id: "loan-1", query}}; a view the caller's role lacks
// (or none) is its home view, and the address says so.
function route() {
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, id] = path.split("/").map(decodeURIComponent);
  if (!app.may(name)) {
    const home = app.views[0];
    if (name) history.replaceState(null, "", `#/${home}`);
    return { name: home, view: VIEWS[home], params: { query: new URLSearchParams() } };
  }
  const query = new URLSearchParams(search);
  if (id && DETAIL_VIEWS[name]) return { name, view: DETAIL_VIEWS[name], params: { id, query } };
  return { name, view: VIEWS[name], params: { query } };
}

function showNavOf(views) {
  for (const link of byId("nav").querySelectorAll("a")) {
    link.parentElement.hidden = !views.includes(link.getAttribute("href").replace("#/", ""));
  }
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
  const routedHash = location.hash; // the address this render is for (it may change while it runs)
  const token = ++renderCount;
  const shownIn = language();
  const content = h("div");
  beginRender(content);
  try {
    await view.render(content, app, params);
  } catch (error) {
    content.replaceChildren(h("h1", {}, t("view.failed")), h("p", { class: "error", role: "alert" }, String(error.message)));
  }
  if (token !== renderCount || !app.api) { // a newer render (or sign-out) won
    announceRendered(routedHash, false);
    return;
  }
  const focusedId = document.activeElement?.id;
  byId("view").replaceChildren(...content.childNodes);
  byId("view").dataset.shown = routedHash; // what is on screen, and in which language (tests wait for it)
  byId("view").dataset.language = shownIn;
  currentView = view;
  markCurrentNav(name);
  const heading = byId("view").querySelector("h1");
  if (focusPending && heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  } else if (!restoreKeptFocus() && focusedId && byId(focusedId)) byId(focusedId).focus();
  focusPending = false;
  document.title = t("page.view_title", { view: heading?.textContent ?? t("page.dashboard") });
  announceRendered(routedHash, true);
}

// Each render says when it is done, shown or discarded (tests wait for it).
function announceRendered(hash, shown) {
  byId("view").dispatchEvent(new CustomEvent("rendered", { detail: { hash, shown } }));
}

function refreshSoon() {
  if (document.querySelector("dialog[open]")) return; // refreshed when the dialog closes
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => show({ moveFocus: false }), REFRESH_DELAY_MS);
}

async function refreshOpenAlertCount() {
  if (!app.may("alerts")) return;
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
  return about ? t("alerts.described", { type: term("alert_type", data.type), about }) : term("alert_type", data.type);
}

function onEvent(event) {
  if (event.type === "alert.opened") toast(t("toast.new_alert", { alert: describeAlert(event.data) }));
  if (event.type === "loan.status_changed") {
    const { id, previous, status } = event.data;
    toast(t("toast.status_changed", { id, previous: term("status", previous), status: term("status", status) }));
  }
  if (event.type === "inspection.overdue") toast(t("toast.inspection_overdue", { lot: event.data.lot }));
  if (event.type.startsWith("alert.")) refreshOpenAlertCount().catch(() => {});
  if (currentView?.refreshOn.some((prefix) => event.type.startsWith(prefix))) refreshSoon();
}

function onLiveState(state) {
  const badge = byId("live-state");
  badge.dataset.state = state;
  setText(badge, `live.${state}`);
  if (state === "unauthorized") signOut("sign_in.key_refused");
  else if (state === "live") refreshSoon(); // events may have been missed while away
}

function tickCountdowns() {
  const nowS = Date.now() / 1000;
  for (const timer of document.querySelectorAll("[data-deadline]")) {
    timer.textContent = countdown(Number(timer.dataset.deadline) - nowS);
  }
}

async function start(key) {
  const api = makeApi(key, () => signOut("sign_in.key_refused"));
  const layout = await api.get("/dashboard/layout");
  Object.assign(app, { api, layout, caller: layout.caller, isStaff: STAFF.includes(layout.caller.role),
    views: viewsOf(layout.caller.role) });
  showNavOf(app.views);
  byId("caller-name").textContent = layout.caller.lender ? `${layout.caller.name} (${layout.caller.lender})` : layout.caller.name;
  byId("sign-in").hidden = true;
  byId("nav").hidden = byId("session").hidden = byId("view").hidden = false;
  stopEvents = connectEvents(key, { onEvent, onState: onLiveState });
  await Promise.all([show({ moveFocus: false }), refreshOpenAlertCount()]);
}

// message: a catalogue key (the sign-in form shows it, in the language chosen then or later)
function signOut(message = "") {
  sessionStorage.removeItem(KEY_SLOT);
  stopEvents?.();
  Object.assign(app, { api: null, layout: null, caller: null, isStaff: false, views: [] });
  byId("view").replaceChildren();
  byId("nav").hidden = byId("session").hidden = byId("view").hidden = true;
  byId("sign-in").hidden = false;
  setText(byId("sign-in-error"), message);
  byId("api-key").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const key = byId("api-key").value.trim();
  setText(byId("sign-in-error"), "");
  try {
    await start(key);
    sessionStorage.setItem(KEY_SLOT, key);
    byId("api-key").value = "";
  } catch (error) {
    stopEvents?.();
    if (error.status === 401) setText(byId("sign-in-error"), "sign_in.not_accepted");
    else setText(byId("sign-in-error"), "sign_in.failed", { message: error.message });
  }
}

// The acknowledge / resolve dialog (one for the page, so live refreshes never close it).
let dialogAlert = null;

function labelAlertDialog() {
  const acknowledging = byId("alert-dialog").dataset.action === "acknowledge";
  const type = term("alert_type", dialogAlert.type);
  byId("alert-dialog-title").textContent = t(acknowledging ? "dialog.acknowledge_title" : "dialog.resolve_title", { type });
  byId("alert-dialog-about").textContent = describeAlert(dialogAlert);
  setText(byId("alert-dialog-confirm"), acknowledging ? "dialog.acknowledge" : "dialog.resolve");
}

function openAlertDialog(alert, action) {
  const dialog = byId("alert-dialog");
  dialogAlert = alert;
  dialog.dataset.alertId = alert.id;
  dialog.dataset.action = action;
  labelAlertDialog();
  byId("alert-note-field").hidden = action !== "acknowledge";
  byId("alert-note").value = "";
  byId("alert-dialog-error").textContent = "";
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
    toast(t(action === "acknowledge" ? "toast.acknowledged" : "toast.resolved"));
  } catch (error) {
    byId("alert-dialog-error").textContent = error.message;
  }
}

// The chooser lists every catalogue by its own name; a change rewrites the page in place.
function initLanguage() {
  const chooser = byId("language");
  chooser.replaceChildren(...Object.entries(LANGUAGES).map(([code, { name }]) =>
    h("option", { value: code, lang: code, selected: code === language() }, name)));
  chooser.addEventListener("change", () => setLanguage(chooser.value));
  document.documentElement.lang = language();
  translatePage();
  onLanguageChange(() => {
    if (byId("alert-dialog").open) labelAlertDialog();
    if (app.api) show({ moveFocus: false });
  });
}

function init() {
  initLanguage();
  byId("sign-in-form").addEventListener("submit", onSignIn);
  byId("sign-out").addEventListener("click", () => signOut());
  byId("alert-dialog-form").addEventListener("submit", onAlertDialogSubmit);
  byId("alert-dialog-cancel").addEventListener("click", () => byId("alert-dialog").close());
  byId("alert-dialog").addEventListener("close", () => app.api && refreshSoon());
  window.addEventListener("hashchange", () => app.api && show({ moveFocus: true }));
  setInterval(tickCountdowns, 1000);
  const key = sessionStorage.getItem(KEY_SLOT);
  if (key) start(key).catch(() => signOut("sign_in.session_ended"));
  else signOut();
}

init();
