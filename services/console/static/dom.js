// DOM and formatting helpers. Every text goes in through textContent: nothing from the API becomes HTML.

export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      el.setAttribute("class", value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (!svg && name in el && typeof value !== "string") {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let timeZone = "Asia/Shanghai";

export function setTimeZone(zone) {
  timeZone = zone || timeZone;
}

export function getTimeZone() {
  return timeZone;
}

const formatters = new Map();

function formatter(kind) {
  if (!formatters.has(kind + timeZone)) {
    const options = { timeZone, hour12: false, year: "numeric", month: "2-digit", day: "2-digit" };
    if (kind === "datetime") Object.assign(options, { hour: "2-digit", minute: "2-digit" });
    formatters.set(kind + timeZone, new Intl.DateTimeFormat("zh-CN", options));
  }
  return formatters.get(kind + timeZone);
}

/** An ISO time as the district's people read it: 2026-11-23 04:40. */
export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const parts = Object.fromEntries(formatter("datetime").formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** How far away a time is, in words: 还剩 3 小时 / 已超 20 分钟. */
export function fmtRemaining(iso, now = Date.now()) {
  if (!iso) return "";
  const ms = new Date(iso).getTime() - now;
  const minutes = Math.round(Math.abs(ms) / 60000);
  let span;
  if (minutes < 60) span = `${minutes} 分钟`;
  else if (minutes < 48 * 60) span = `${Math.round(minutes / 6) / 10} 小时`;
  else span = `${Math.round(minutes / 144) / 10} 天`;
  return ms >= 0 ? `还剩 ${span}` : `已超 ${span}`;
}

/** The district's local date (YYYY-MM-DD) of a moment. */
export function localDate(date = new Date()) {
  const parts = Object.fromEntries(formatter("date").formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** A local date (YYYY-MM-DD) at the start of the district's day, as RFC 3339 with the district's offset. */
export function startOfLocalDay(day) {
  return `${day}T00:00:00${offsetOf(day)}`;
}

function offsetOf(day) {
  // The zone's offset on that day, e.g. +08:00 (Asia/Shanghai has no daylight saving, others may).
  const probe = new Date(`${day}T12:00:00Z`);
  const name = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(probe)
    .find((p) => p.type === "timeZoneName").value; // GMT+08:00, or GMT
  const match = name.match(/GMT([+-]\d{2}):?(\d{2})?/);
  return match ? `${match[1]}:${match[2] || "00"}` : "+00:00";
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
