// The console's entry: configuration, sign-in with an API key, the header and hash routing.

import { renderAssessment } from "./assessment.js";
import { api, departments, getKey, problemBox, resetCache, setKey, units, whenUnauthenticated } from "./api.js";
import { renderCase } from "./case.js";
import { renderCases } from "./cases.js";
import { clear, h, setTimeZone } from "./dom.js";
import { LEVELS, SCOPES, label } from "./labels.js";
import { eventsReceived, onLiveEvent, onLiveState, startLive, stopLive } from "./live.js";
import { renderMap } from "./map.js";
import { renderStats } from "./stats.js";

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
  { pattern: /^\/stats$/, title: "统计报表", nav: "stats", render: (el, params) => renderStats(el, ctx, params) },
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
  const found = ROUTES.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m);
  if (!found) {
    location.replace("#/map");
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

function areaOf(me) {
  if (me.sees_all) return [config.district].filter(Boolean);
  return me.area.filter((a) => a.kind === "unit" && a.code).map((a) => a.code);
}

/** A key of departments or branches only has no territory: it sees its cases over the whole district. */
function departmentOnly(me) {
  return !me.sees_all && areaOf(me).length === 0;
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
  };
}

function renderHeader(me) {
  const area = me.sees_all
    ? "全部区域"
    : me.area.map((a) => (a.name ? `${a.name}（${label(LEVELS, a.level)}）` : a.unit)).join("、");
  clear(who,
    h("span", { class: "who-name" }, me.name),
    h("span", { class: "muted small" }, ` · ${area} · 权限：${me.scopes.map((s) => label(SCOPES, s)).join("、")}`),
    h("button", { type: "button", id: "sign-out", onclick: signOut }, "退出"),
  );
  nav.hidden = false;
}

function signOut() {
  setKey(null);
  stopLive();
  ctx = null;
  resetCache();
  if (typeof dispose === "function") dispose();
  dispose = null;
  clear(who);
  nav.hidden = true;
  showSignIn();
}

function showSignIn(error) {
  document.title = "登录 · 网格化管理指挥中心";
  const input = h("input", {
    id: "api-key",
    name: "key",
    type: "password",
    autocomplete: "off",
    required: true,
    placeholder: "gdk_…",
    "aria-describedby": "key-help",
  });
  const message = h("div", {}, error ? problemBox(error) : null);
  const form = h("form", { class: "sign-in card", id: "sign-in" },
    h("h2", {}, "登录指挥中心"),
    h("label", { for: "api-key" }, "API 密钥"),
    input,
    h("p", { id: "key-help", class: "muted small" },
      "使用管理员为本指挥中心签发的 API 密钥（griddispatch clients create）。密钥只保存在本浏览器标签页中，关闭即清除。"),
    h("button", { type: "submit", class: "primary" }, "登录"),
    message,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setKey(input.value.trim());
    clear(message, h("p", { class: "muted" }, "正在验证…"));
    try {
      await signIn();
    } catch (err) {
      setKey(null);
      clear(message, problemBox(err));
    }
  });
  clear(main, form);
  input.focus();
}

async function signIn() {
  resetCache();
  const me = await api("/v1/me");
  ctx = await buildContext(me);
  renderHeader(me);
  const territorial = ctx.wholeDistrict ? [] : ctx.areaCodes.map((c) => `unit:${c}`);
  const streams = [...territorial, ...me.units.filter((u) => !u.startsWith("unit:") && u !== "*")];
  startLive(config.notify_url, streams, getKey());
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.replace("#/map");
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
  try {
    config = await api("/console/config.json");
  } catch (err) {
    clear(main, problemBox(err));
    return;
  }
  setTimeZone(config.timezone);
  whenUnauthenticated((err) => {
    signOut();
    showSignIn(err);
  });
  window.addEventListener("hashchange", route);
  if (!getKey()) {
    showSignIn();
    return;
  }
  try {
    await signIn();
  } catch (err) {
    setKey(null);
    showSignIn(err);
  }
}

start();
