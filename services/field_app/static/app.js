// The field app's entry: the service worker (the app opens offline), sign-in, the live stream of the person's
// units, the tab bar and hash routing (#/queue, #/queue/unit, #/case/<id>, #/report, #/outbox, #/me).

import { ApiError, api, problemBox, problemType, whenUnauthenticated } from "./api.js";
import { appConfig, forgetCatalog } from "./catalog.js";
import { renderCase } from "./case.js";
import { clear, h, setTimeZone } from "./dom.js";
import { LEVELS, ROLES, label } from "./labels.js";
import { onLiveEvent, onLiveState, ring, startLive, stopLive } from "./live.js";
import { flush, items, onOutboxChange } from "./outbox.js";
import { renderPending } from "./pending.js";
import { markFresh, renderQueue } from "./queue.js";
import { renderReport } from "./report.js";
import { bearer, current, forget, onSessionChange, signOut } from "./session.js";
import { renderSignIn } from "./signin.js";

const main = document.getElementById("main");
const tabs = document.getElementById("tabs");
const title = document.getElementById("title");
const alertBar = document.getElementById("alert");
const ME = "griddispatch.app.me";
const LIVE_TEXT = { off: "未连接", connecting: "连接中", live: "实时", down: "推送中断" };

let config = null;
let ctx = null;
let dispose = null;
let installPrompt = null;

const ROUTES = [
  { pattern: /^\/queue$/, tab: "queue", title: "我的待办", render: (el) => renderQueue(el, ctx, "mine") },
  { pattern: /^\/queue\/unit$/, tab: "queue", title: "本单位待办", render: (el) => renderQueue(el, ctx, "unit") },
  { pattern: /^\/case\/([0-9a-fA-F-]{36})$/, tab: "queue", title: "案件", render: (el, m) => renderCase(el, ctx, m[1].toLowerCase()) },
  { pattern: /^\/report$/, tab: "report", title: "一事一报", render: (el) => renderReport(el, ctx) },
  { pattern: /^\/outbox$/, tab: "outbox", title: "待发送", render: (el) => renderPending(el) },
  { pattern: /^\/me$/, tab: "me", title: "我的", render: (el) => renderMe(el) },
];

async function route() {
  if (!ctx) return;
  if (typeof dispose === "function") dispose();
  dispose = null;
  const path = location.hash.replace(/^#/, "") || "/queue";
  const found = ROUTES.map((r) => ({ r, m: path.match(r.pattern) })).find((x) => x.m);
  if (!found) {
    location.replace("#/queue");
    return;
  }
  for (const link of tabs.querySelectorAll("a")) {
    if (link.dataset.tab === found.r.tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  title.textContent = found.r.title;
  document.title = `${found.r.title} · 网格员手机端`;
  const holder = h("div", {});
  clear(main, holder);
  try {
    const result = await found.r.render(holder, found.m);
    if (holder.isConnected) dispose = result;
    else if (typeof result === "function") result();
  } catch (err) {
    clear(holder, problemBox(err));
  }
  window.scrollTo(0, 0);
}

function streamsOf(me) {
  return me.units.filter((u) => u !== "*");
}

/** The person's own copy of /v1/me: what the app shows and acts with when it opens offline. */
async function whoAmI() {
  try {
    const me = await api("/v1/me");
    localStorage.setItem(ME, JSON.stringify(me));
    return me;
  } catch (err) {
    const copy = JSON.parse(localStorage.getItem(ME) || "null");
    if (err instanceof ApiError && err.status === 0 && copy) return copy;
    throw err;
  }
}

function showAlert(text, caseId) {
  clear(alertBar, h("span", { id: "alert-text" }, text),
    caseId ? h("a", { class: "button", href: `#/case/${caseId}`, onclick: () => (alertBar.hidden = true) }, "查看") : null,
    h("button", { type: "button", "aria-label": "关闭", onclick: () => (alertBar.hidden = true) }, "×"));
  alertBar.hidden = false;
}

function onAssignment(event) {
  if (!ctx || event.type !== "cn.griddispatch.case.assigned.v1" || !event.data) return;
  const data = event.data.data || {};
  const me = ctx.me.person ? ctx.me.person.id : null;
  if (data.person && data.person !== me) return; // a colleague's: their phone rings, the unit list reloads
  markFresh(data.case_id || event.data.subject);
  const rang = ring();
  document.documentElement.dataset.vibrated = String(rang.vibrated);
  showAlert(`新派单：${data.title || data.case_number || ""}${data.person === me ? "（派给您）" : "（本单位无人接办）"}`, data.case_id || event.data.subject);
}

async function countOutbox() {
  const waiting = (await items()).filter((x) => x.status !== "sent").length;
  const badge = document.getElementById("outbox-count");
  badge.textContent = String(waiting);
  badge.hidden = waiting === 0;
}

async function signedIn() {
  forgetCatalog();
  const me = await whoAmI();
  if (!me.person) throw new Error("本应用供个人账号登录使用");
  ctx = { me, config };
  tabs.hidden = false;
  startLive(config.notify_url, streamsOf(me), bearer());
  flush();
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.replace("#/queue");
  await route();
}

function leave(message) {
  stopLive();
  ctx = null;
  if (typeof dispose === "function") dispose();
  dispose = null;
  tabs.hidden = true;
  title.textContent = "网格员手机端";
  renderSignIn(main, { message, onSignedIn: signedIn });
}

function renderMe(el) {
  const p = ctx.me.person || {};
  const roles = (p.roles || []).map((r) => `${label(ROLES, r.role)} · ${r.name || r.unit}${r.level ? `（${label(LEVELS, r.level)}）` : ""}`);
  clear(el,
    h("section", { class: "stack" },
      h("div", { class: "card" },
        h("h2", { id: "me-name" }, p.name || ctx.me.name),
        h("ul", { id: "me-roles" }, roles.map((r) => h("li", {}, r))),
      ),
      installPrompt
        ? h("button", { type: "button", class: "wide", id: "install", onclick: async () => {
            installPrompt.prompt();
            installPrompt = null;
          } }, "安装到手机桌面")
        : h("p", { class: "small muted" }, "安装到桌面：在浏览器菜单中选择“添加到主屏幕”（详见使用说明）。"),
      h("button", { type: "button", class: "wide", id: "test-ring", onclick: () => ring() }, "测试提示音和振动"),
      h("button", { type: "button", class: "danger wide", id: "sign-out", onclick: async () => {
        await signOut();
        leave();
      } }, "退出登录"),
    ),
  );
}

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {});
  }
  window.addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    installPrompt = event;
  });
  const net = document.getElementById("net");
  const showNet = () => {
    const online = navigator.onLine !== false;
    net.dataset.state = online ? "online" : "offline";
    net.textContent = online ? "在线" : "离线";
  };
  showNet();
  window.addEventListener("online", showNet);
  window.addEventListener("offline", showNet);
  // No network: the streams are closed (the indicator says so), and opened afresh when it returns.
  window.addEventListener("offline", () => stopLive());
  window.addEventListener("online", () => {
    if (ctx && bearer()) startLive(config.notify_url, streamsOf(ctx.me), bearer());
  });
  const live = document.getElementById("live");
  onLiveState((state) => {
    live.dataset.state = state;
    live.textContent = LIVE_TEXT[state] || state;
  });
  onLiveEvent(onAssignment);
  onOutboxChange(() => countOutbox());
  countOutbox();
  onSessionChange((session) => {
    if (ctx && session) startLive(config.notify_url, streamsOf(ctx.me), session.access);
    if (session) flush();
  });
  // Refused with a session the server has ended (signed out elsewhere, revoked, disabled): sign in again; what
  // waits in the outbox stays on the phone and goes after that.
  whenUnauthenticated((err) => {
    if (!ctx) return;
    const type = problemType(err.problem);
    if (current() && !["token_revoked", "token_invalid", "token_wrong_issuer", "unauthenticated", "person_disabled"].includes(type)) return;
    forget();
    leave("登录已失效，请重新登录（待发送的内容仍保存在手机上）。");
  });
  window.addEventListener("hashchange", route);
  try {
    config = await appConfig();
  } catch (err) {
    clear(main, problemBox(err));
    return;
  }
  setTimeZone(config.timezone);
  if (!current()) {
    leave();
    return;
  }
  try {
    await signedIn();
  } catch (err) {
    leave(err instanceof ApiError && err.status === 401 ? "登录已失效，请重新登录。" : String(err.message || err));
  }
}

start();
