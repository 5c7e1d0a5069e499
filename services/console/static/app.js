// The console's entry: configuration, sign-in (a person's password or single sign-on; an API key for system
// operators), the header with who is signed in, and hash routing.

import { renderAssessment } from "./assessment.js";
import { api, departments, problemBox, resetCache, unitByCode, units, whenUnauthenticated } from "./api.js";
import { renderCase } from "./case.js";
import { renderCases } from "./cases.js";
import { renderDesk } from "./desk.js";
import { clear, h, setTimeZone } from "./dom.js";
import { LEVELS, PERSON_ROLES, SCOPES, label } from "./labels.js";
import { eventsReceived, onLiveEvent, onLiveState, startLive, stopLive } from "./live.js";
import { renderMap } from "./map.js";
import { queueAvailable, renderQueue } from "./queue.js";
import { bearer, current, forget, isPerson, onSessionChange, signOut as endSession, takeFragment } from "./session.js";
import { renderSignIn } from "./signin.js";
import { renderStats } from "./stats.js";
import { renderWall } from "./wall.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const liveIndicator = document.getElementById("live-indicator");

const LIVE_TEXT = { off: "未连接", connecting: "连接中", live: "实时", down: "实时推送中断" };

let config = null;
let ctx = null;
let dispose = null;

const ROUTES = [
  { pattern: /^\/map$/, title: "网格地图", nav: "map", render: (el, params) => renderMap(el, ctx, params) },
  { pattern: /^\/cases$/, title: "案件列表", nav: "cases", render: (el, params) => renderCases(el, ctx, params) },
  {
    pattern: /^\/cases\/([0-9a-fA-F-]{36})$/,
    title: "案件详情",
    nav: "cases",
    render: (el, params, match) => renderCase(el, ctx, match[1].toLowerCase()),
  },
  { pattern: /^\/wall$/, title: "指挥大屏", nav: "wall", render: (el) => renderWall(el, ctx) },
  { pattern: /^\/desk$/, title: "督办台", nav: "desk", render: (el, params) => renderDesk(el, ctx, params) },
  { pattern: /^\/stats$/, title: "统计报表", nav: "stats", render: (el, params) => renderStats(el, ctx, params) },
  { pattern: /^\/queue$/, title: "我的待办", nav: "queue", render: (el) => renderQueue(el, ctx, "mine") },
  { pattern: /^\/queue\/unit$/, title: "本单位待办", nav: "queue", render: (el) => renderQueue(el, ctx, "unit") },
  {
    pattern: /^\/assessment$/,
    title: "考核排名",
    nav: "assessment",
    render: (el, params) => renderAssessment(el, ctx, params),
  },
];

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/map";
  const [path, search = ""] = raw.split("?");
  return { path, params: new URLSearchParams(search) };
}

async function route() {
  if (!ctx) return;
  if (typeof dispose === "function") dispose();
  dispose = null;
  const { path, params } = parseHash();
  const offered = (r) => (r.nav !== "queue" || ctx.queue) && (r.nav !== "map" || !ctx.noMap);
  const found = ROUTES.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m && offered(x.r));
  if (!found) {
    location.replace(home());
    return;
  }
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.nav === found.r.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${found.r.title} · 网格化管理指挥中心`;
  // A holder per visit: a page still loading when the user moves on writes into a detached element.
  const holder = h("div", { class: "holder" });
  clear(main, holder);
  try {
    const result = await found.r.render(holder, params, found.m);
    if (holder.isConnected) dispose = result;
    else if (typeof result === "function") result();
  } catch (err) {
    clear(holder, problemBox(err));
  }
}

/** Where a signed-in person starts: their queue when intake has one, else the map. */
function home() {
  if (ctx && ctx.queue) return "#/queue";
  return ctx && ctx.noMap ? "#/cases" : "#/map";
}

function areaOf(me) {
  if (me.sees_all) return [config.district].filter(Boolean);
  return me.area.filter((a) => a.kind === "unit" && a.code).map((a) => a.code);
}

/** A key of departments or branches only has no territory: it sees its cases over the whole district. */
function departmentOnly(me) {
  return !me.sees_all && areaOf(me).length === 0;
}

/** /v1/me's `person`, with the roles the sign-in answer gave where /v1/me leaves them out. */
function personOf(me) {
  if (!me.person) return null;
  const signedIn = (current() && current().person) || {};
  return { ...signedIn, ...me.person, roles: me.person.roles || signedIn.roles || [] };
}

async function buildContext(me) {
  const all = await units();
  const byCode = new Map(all.map((u) => [u.code, u]));
  const wholeDistrict = departmentOnly(me);
  const areaCodes = wholeDistrict ? [config.district] : areaOf(me);
  const canSee = (code) => {
    if (me.sees_all || wholeDistrict) return true;
    for (let unit = byCode.get(code), n = 0; unit && n < 16; unit = byCode.get(unit.parent), n++) {
      if (areaCodes.includes(unit.code)) return true;
    }
    return false;
  };
  const root = byCode.get(areaCodes[0]);
  return {
    config,
    me,
    areaCodes,
    canSee,
    wholeDistrict,
    sees_all: me.sees_all,
    rootLevel: root ? root.level : "district",
    actorUnit: me.sees_all ? `unit:${config.district}` : me.units.find((u) => u.startsWith("unit:")) || me.units[0],
    departments: await departments(),
    person: personOf(me), // set when a person (not an API key) is signed in: actions carry no actor.id
    queue: Boolean(me.person) && (await queueAvailable()),
    // Micro-grids have no outlines to draw: a person who holds only micro-grids works from lists.
    noMap: areaCodes.length > 0 && areaCodes.every((code) => (unitByCode(code) || {}).level === "micro_grid"),
  };
}

/** A person's roles as 「网格员 · 西关街道第1网格」, one per grant. */
export function rolesText(person, names) {
  const roles = person.roles || [];
  return roles.map((r) => {
    const [role, unit] = typeof r === "string" ? r.split("@") : [r.role, r.unit];
    const where = unit === "*" ? "全区" : names.get(unit) || (r && r.name) || unit;
    return `${label(PERSON_ROLES, role)}${where ? ` · ${where}` : ""}`;
  });
}

function renderHeader(me) {
  const names = new Map(me.area.map((a) => [a.unit, a.name]));
  const area = me.sees_all
    ? "全部区域"
    : me.area.map((a) => (a.name ? `${a.name}（${label(LEVELS, a.level)}）` : a.unit)).join("、");
  const person = ctx.person;
  clear(who,
    h("span", { class: "who-name", dataset: { kind: person ? "person" : "key" } }, person ? person.name || me.name : me.name),
    person
      ? h("span", { class: "muted small who-roles" }, ` · ${rolesText(person, names).join("、") || area}`)
      : h("span", { class: "muted small" }, ` · ${area} · 权限：${me.scopes.map((s) => label(SCOPES, s)).join("、")}`),
    h("button", { type: "button", id: "sign-out", onclick: signOut }, "退出"),
  );
  nav.querySelector('[data-nav="queue"]').hidden = !ctx.queue;
  nav.querySelector('[data-nav="map"]').hidden = ctx.noMap;
  nav.hidden = false;
}

function leave() {
  stopLive();
  ctx = null;
  resetCache();
  if (typeof dispose === "function") dispose();
  dispose = null;
  clear(who);
  nav.hidden = true;
}

async function signOut() {
  leave();
  await endSession();
  showSignIn();
}

function showSignIn(error) {
  renderSignIn(main, { methods: config.sign_in || {}, error, onSignedIn: signIn });
}

function streamsOf(me) {
  const territorial = ctx.wholeDistrict ? [] : ctx.areaCodes.map((c) => `unit:${c}`);
  return [...territorial, ...me.units.filter((u) => !u.startsWith("unit:") && u !== "*")];
}

async function signIn() {
  resetCache();
  const me = await api("/v1/me");
  ctx = await buildContext(me);
  renderHeader(me);
  startLive(config.notify_url, streamsOf(me), bearer(), { person: isPerson() });
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.replace(home());
  await route();
}

async function start() {
  onLiveState((state) => {
    liveIndicator.className = `live live-${state}`;
    liveIndicator.dataset.state = state;
    liveIndicator.textContent = LIVE_TEXT[state] || state;
    liveIndicator.title = state === "live" ? "已连接实时推送，地图与列表自动更新" : "实时推送未连接，页面每 15 秒自动刷新";
  });
  onLiveEvent(() => (liveIndicator.dataset.events = String(eventsReceived())));
  // Single sign-on's hand-over first: the tokens leave the address bar before anything else runs.
  const handover = takeFragment();
  try {
    config = await api("/console/config.json");
  } catch (err) {
    clear(main, problemBox(err));
    return;
  }
  setTimeZone(config.timezone);
  whenUnauthenticated((err) => {
    if (!ctx) return; // a sign-in in progress reports its own failure
    leave();
    forget();
    showSignIn(err);
  });
  // A refreshed token: the live stream reconnects with it (EventSource keeps the URL it was opened with).
  let lastToken = bearer();
  onSessionChange((session) => {
    const token = session ? session.access : null;
    if (ctx && token && token !== lastToken) startLive(config.notify_url, streamsOf(ctx.me), token, { person: isPerson() });
    lastToken = token;
  });
  window.addEventListener("hashchange", route);
  if (handover && handover.error) {
    showSignIn({ sso: handover.error, detail: handover.detail });
    return;
  }
  if (!current()) {
    showSignIn();
    return;
  }
  try {
    await signIn();
  } catch (err) {
    const wasPerson = isPerson();
    leave();
    forget();
    showSignIn(wasPerson ? { text: "登录已失效，请重新登录。", problem: err.problem } : err);
  }
}

start();
