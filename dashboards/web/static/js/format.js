// How numbers and times are shown, in the chosen language's locale (Intl) with a 24-hour clock.
// English reads as en-US with "12.3 %" and "1,234 CNY" (tests format the API's values the same way).

import { intlLocale, t } from "./i18n.js";

const formats = new Map(); // locale + options → Intl formatter (building one is slow)

function cached(Kind, options) {
  const key = `${Kind.name} ${intlLocale()} ${JSON.stringify(options)}`;
  if (!formats.has(key)) formats.set(key, new Kind(intlLocale(), options));
  return formats.get(key);
}

const WHOLE = { maximumFractionDigits: 0 };
const ONE_DECIMAL = { minimumFractionDigits: 1, maximumFractionDigits: 1 };
// hourCycle h23, not hour12: false, which writes midnight as 24:05 in en-US.
const CLOCK = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
const DATE = { year: "numeric", month: "numeric", day: "numeric" };

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "—";
  return t("format.percent", { value: cached(Intl.NumberFormat, ONE_DECIMAL).format(Number(ratio) * 100) });
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  return t("format.money", { amount: cached(Intl.NumberFormat, WHOLE).format(Number(amount)), currency });
}

export function quantity(amount, unit = "") {
  if (amount === null || amount === undefined) return "—";
  const value = cached(Intl.NumberFormat, ONE_DECIMAL).format(Number(amount));
  return unit ? t("format.quantity", { value, unit }) : value;
}

export function number(value, digits = 1) {
  return cached(Intl.NumberFormat, { maximumFractionDigits: digits }).format(value);
}

export function dateTime(seconds) {
  return cached(Intl.DateTimeFormat, { ...DATE, ...CLOCK, second: "2-digit" }).format(seconds * 1000);
}

export function clock(seconds) {
  return cached(Intl.DateTimeFormat, CLOCK).format(seconds * 1000);
}

// Month, day and clock: a time axis longer than a day.
export function dayClock(seconds) {
  return cached(Intl.DateTimeFormat, { month: "numeric", day: "numeric", ...CLOCK }).format(seconds * 1000);
}

// "3 d 04:05:06" from a number of seconds (never negative).
export function countdown(seconds) {
  const left = Math.max(0, Math.floor(seconds));
  const days = Math.floor(left / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const hms = `${pad(Math.floor(left % 86400 / 3600))}:${pad(Math.floor(left % 3600 / 60))}:${pad(left % 60)}`;
  return days ? t("format.days", { days, hms }) : hms;
}

// A data identifier (a commodity, a currency) in words: steel_coil → "steel coil".
export function label(identifier) {
  return identifier.replaceAll("_", " ");
}
