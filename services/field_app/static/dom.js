// DOM and time helpers. Every text goes in through textContent: nothing from the API becomes HTML.

export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (!svg && name in el && typeof value !== "string" && name !== "class") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  return append(el, children);
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

/** An ISO time on the district's clock: 12-02 14:05 (this year), 2025-12-02 14:05 (another). */
export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("zh-CN", {
      timeZone, hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).formatToParts(date).map((p) => [p.type, p.value]),
  );
  const thisYear = String(new Date().getFullYear());
  const day = parts.year === thisYear ? `${parts.month}-${parts.day}` : `${parts.year}-${parts.month}-${parts.day}`;
  return `${day} ${parts.hour}:${parts.minute}`;
}

/** How far away a time is: 还剩 3 小时 / 已超 20 分钟. */
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

/** A fresh idempotency key: made once, when the person presses send, and kept with the item until it is sent. */
export function newKey(kind) {
  const id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  return `app-${kind}-${id}`;
}
