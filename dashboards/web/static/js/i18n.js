// Every word the dashboard shows goes through t(key, params), looked up in the chosen language's
// catalogue (js/locales/*.js), English being the fallback. A key the chosen catalogue lacks is
// recorded in window.pledgewatchMissingKeys (the browser tests fail on it) and shown in English.

import en from "./locales/en.js";
import zhCN from "./locales/zh-CN.js";

// code → the name the chooser shows (in its own language), its catalogue, its Intl locale
export const LANGUAGES = {
  en: { name: "English", catalogue: en, intl: "en-US" },
  "zh-CN": { name: "简体中文", catalogue: zhCN, intl: "zh-CN" },
};
const SLOT = "pledgewatch.language";
const missing = [];
window.pledgewatchMissingKeys = missing;
const listeners = [];

function initial() {
  const saved = localStorage.getItem(SLOT);
  if (Object.hasOwn(LANGUAGES, saved ?? "")) return saved;
  return (navigator.language ?? "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

let current = initial();

export const language = () => current;
export const intlLocale = () => LANGUAGES[current].intl;

function lookup(key) {
  const chosen = LANGUAGES[current].catalogue;
  if (Object.hasOwn(chosen, key)) return chosen[key];
  if (!missing.includes(key)) missing.push(key);
  // Unknown even in English (a bug the catalogue test should have caught): its words, not the key.
  return Object.hasOwn(en, key) ? en[key] : key.split(".").at(-1).replaceAll("_", " ");
}

// "Loan {id}" with {id: "loan-1"} → "Loan loan-1"
export function t(key, params = {}) {
  return lookup(key).replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

// Like t, but the params may be DOM nodes: returns the pieces for h()/fill() to append in order.
export function tParts(key, params = {}) {
  return lookup(key).split(/(\{\w+\})/).filter(Boolean)
    .map((piece) => (/^\{\w+\}$/.test(piece) && Object.hasOwn(params, piece.slice(1, -1)) ? params[piece.slice(1, -1)] : piece));
}

// A value the API names by identifier (a status, an alert type, a severity, an alert state):
// its translation under `${kind}.${id}`, or its words for one newer than the catalogue.
export function term(kind, id) {
  const key = `${kind}.${id}`;
  return Object.hasOwn(en, key) ? t(key) : String(id).replaceAll("_", " ");
}

// Static text in the page: data-i18n="key" (text), data-i18n-aria-label="key", and
// data-i18n-params='{"name": "value"}' for keys with placeholders.
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n, element.dataset.i18nParams ? JSON.parse(element.dataset.i18nParams) : {});
  }
  for (const element of root.querySelectorAll("[data-i18n-aria-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAriaLabel));
  }
}

// Sets an element's text from a key and keeps the key, so a change of language rewrites it.
export function setText(element, key, params) {
  if (!key) {
    delete element.dataset.i18n;
    delete element.dataset.i18nParams;
    element.textContent = "";
    return;
  }
  element.dataset.i18n = key;
  if (params) element.dataset.i18nParams = JSON.stringify(params);
  else delete element.dataset.i18nParams;
  element.textContent = t(key, params);
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

export function setLanguage(code) {
  if (!Object.hasOwn(LANGUAGES, code)) return;
  current = code;
  localStorage.setItem(SLOT, code);
  document.documentElement.lang = code;
  translatePage();
  for (const listener of listeners) listener(code);
}
