// How numbers and times are shown (one place, so tests can format the API's values the same way).

const LOCALE = "en-US";
const whole = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function percent(ratio) {
  if (ratio === null || ratio === undefined) return "—";
  return `${oneDecimal.format(Number(ratio) * 100)} %`;
}

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  return `${whole.format(Number(amount))} ${currency}`;
}

export function quantity(amount, unit = "") {
  if (amount === null || amount === undefined) return "—";
  return `${oneDecimal.format(Number(amount))}${unit ? ` ${unit}` : ""}`;
}

export function number(value, digits = 1) {
  return new Intl.NumberFormat(LOCALE, { maximumFractionDigits: digits }).format(value);
}

export function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(LOCALE, { hour12: false });
}

export function dateTime(seconds) {
  return new Date(seconds * 1000).toLocaleString(LOCALE, { hour12: false });
}

export function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit", hour12: false });
}

// "3 d 04:05:06" from a number of seconds (never negative).
export function countdown(seconds) {
  const left = Math.max(0, Math.floor(seconds));
  const days = Math.floor(left / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const hms = `${pad(Math.floor(left % 86400 / 3600))}:${pad(Math.floor(left % 3600 / 60))}:${pad(left % 60)}`;
  return days ? `${days} d ${hms}` : hms;
}

export function label(identifier) {
  return identifier.replaceAll("_", " ");
}
