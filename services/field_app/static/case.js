// 案件: what, where (the spot on its grid's outline), deadlines, history, and what the person can do now: 签收,
// 开始处置, 进展, 办结 with before/after photos, 退单 with a reason code, 上报 (report up, when the case API allows it).
// Every action goes through the outbox (outbox.js): offline it waits on the phone and is sent when the network
// returns, with the key it was given when the button was pressed.

import { ApiError, api, pictureUrl, problemBox } from "./api.js";
import { acceptedActions, matterName, matterTypes } from "./catalog.js";
import { clear, fmtRemaining, fmtTime, h, newKey } from "./dom.js";
import { ACTIONS, DEADLINES, RETURN_REASONS, STATES, WARNINGS, badge, label } from "./labels.js";
import { onLiveEvent } from "./live.js";
import { enqueue, items as outboxItems, onOutboxChange } from "./outbox.js";
import { photoPicker } from "./photos.js";
import { place as placeOf, unitChain } from "./places.js";
import { spotMap } from "./spot.js";

const CACHE = "griddispatch.app.cases";
const KEEP = 30;

// What the lead may do from each state (shared/domain/lifecycle.py), the part the app offers, kept to what the
// case API's `allowed_actions` (per role) allows where it says. Report up (上报): for the lead, with no report-up
// waiting for a decision, when `allowed_actions` lists it (or, without that list, in handling and when this
// intake takes the action at all).
const LEAD_ACTIONS = {
  assigned: ["accept", "return"],
  accepted: ["start", "resolve", "return"],
  in_progress: ["progress", "resolve"],
  reopened: ["accept"],
};

function cached() {
  try {
    return JSON.parse(localStorage.getItem(CACHE) || "{}");
  } catch {
    return {};
  }
}

function keep(c) {
  const all = cached();
  all[c.case_id] = { at: Date.now(), c };
  const ids = Object.keys(all).sort((a, b) => all[b].at - all[a].at);
  for (const id of ids.slice(KEEP)) delete all[id];
  try {
    localStorage.setItem(CACHE, JSON.stringify(all));
  } catch {
    // full: the case still shows, it is just not kept for offline
  }
}

/** The party the person acts for: the lead (or an assisting part) that is, or lies in, one of their units. */
export async function actingUnit(me, c) {
  const a = c.assignment || {};
  for (const party of [a.lead, ...(a.assisting || [])].filter(Boolean)) {
    if (me.units.includes(party) || me.sees_all) return { unit: party, lead: party === a.lead };
    const [kind, code] = party.split(":");
    if (kind !== "unit") continue;
    const chain = await unitChain(code).catch(() => []);
    if (chain.some((u) => me.units.includes(`unit:${u}`))) return { unit: party, lead: party === a.lead };
  }
  return null;
}

const HANDLING = ["assigned", "accepted", "in_progress", "reopened"];

/** The case API's `allowed_actions` for the role the person acts in (a list, or per role), or null without it. */
function allowedFor(c, acting) {
  const given = c.allowed_actions;
  if (Array.isArray(given)) return given;
  if (given && typeof given === "object") return given[acting.lead ? "assignee" : "assisting"] || [];
  return null;
}

export function offeredActions(c, acting, accepted = []) {
  if (!acting) return [];
  const allowed = allowedFor(c, acting);
  const base = acting.lead ? LEAD_ACTIONS[c.state] || [] : c.state === "accepted" || c.state === "in_progress" ? ["progress"] : [];
  const offered = allowed ? base.filter((a) => allowed.includes(a)) : [...base];
  const waiting = ((c.deadlines || {}).items || []).some((d) => d.kind === "report_up_decision" && d.status === "open");
  const reportUp = acting.lead && !waiting && (allowed ? allowed.includes("report_up") : HANDLING.includes(c.state) && accepted.includes("report_up"));
  if (reportUp) offered.push("report_up");
  return offered;
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function deadlineList(c) {
  const list = (c.deadlines && c.deadlines.items) || [];
  const running = list.filter((d) => d.status === "open");
  const shown = running.length ? running : list.slice(-2);
  if (!shown.length) return h("p", { class: "muted" }, "无时限");
  return h("ul", { class: "deadlines", id: "deadlines" },
    shown.map((d) => h("li", { dataset: { kind: d.kind, warning: d.warning } },
      h("span", {}, label(DEADLINES, d.kind), h("br"), h("span", { class: "small muted" }, fmtTime(d.due_at))),
      h("span", {}, h("span", { class: badge(d.warning) }, label(WARNINGS, d.warning)), h("br"),
        h("span", { class: "small" }, d.status === "open" ? fmtRemaining(d.due_at) : d.status === "met" ? "已完成" : "已失效")),
    )));
}

function timeline(c) {
  return h("ol", { class: "timeline", id: "timeline" },
    [...(c.history || [])].reverse().map((e) => h("li", { dataset: { action: e.action } },
      h("time", { datetime: e.at }, fmtTime(e.at)),
      h("strong", {}, label(ACTIONS, e.action)),
      e.to_state && e.to_state !== e.from_state ? h("span", { class: "small muted" }, ` → ${label(STATES, e.to_state)}`) : null,
      e.actor && e.actor.name ? h("div", { class: "small" }, e.actor.name) : null,
      e.note ? h("div", { class: "small" }, e.note) : null,
    )));
}

const PHOTO_ROLES = { before: "处置前", after: "处置后", evidence: "现场" };

/** The case's photos (GET /v1/cases/{id}/attachments), as thumbnails; nothing when it has none (or no uploads). */
async function showPhotos(caseId, holder) {
  let answer;
  try {
    answer = await api(`/v1/cases/${caseId}/attachments`);
  } catch {
    return;
  }
  const items = answer.items || [];
  if (!items.length) return;
  const strip = h("div", { class: "photos", id: "case-photos" });
  clear(holder, h("section", { class: "card" }, h("h3", {}, "照片"), strip));
  for (const item of items) {
    const url = await pictureUrl(item.thumbnail_url || item.url).catch(() => null);
    if (!url || !holder.isConnected) continue;
    strip.append(h("figure", { class: "photo", dataset: { role: item.role } },
      h("img", { src: url, alt: `${PHOTO_ROLES[item.role] || ""}照片` }),
      h("figcaption", { class: "small" }, PHOTO_ROLES[item.role] || item.role)));
  }
}

/** The person's last step refused by dispatch (the history's `rejected`), said plainly at the top. */
function rejectedNotice(c, ctx) {
  const history = c.history || [];
  const last = history[history.length - 1];
  const me = ctx.me.person ? ctx.me.person.id : null;
  if (!last || last.action !== "rejected" || !last.actor || last.actor.id !== me) return null;
  const why = String(last.note || "").split(";")[0];
  return h("div", { class: "problem", role: "alert", id: "case-rejected" },
    h("strong", {}, `您的操作未被受理，案件仍为“${label(STATES, c.state)}”。`),
    why.startsWith("waiting for the parts of") ? h("div", {}, "还有协办单位未报到（完成其部分），请等协办单位报到后再办结。") : h("div", { class: "small" }, why));
}

async function loadCase(caseId) {
  try {
    const c = await api(`/v1/cases/${caseId}`);
    if (c.state !== "received") keep(c);
    return { c, offline: false };
  } catch (err) {
    const copy = cached()[caseId];
    if (err instanceof ApiError && err.status === 0 && copy) return { c: copy.c, offline: true, at: copy.at };
    throw err;
  }
}

/** Draw the case once into `main`; returns the case shown (null when it could not be read). */
async function drawCase(main, ctx, caseId, page) {
  let loaded;
  try {
    loaded = await loadCase(caseId);
  } catch (err) {
    clear(main, h("p", {}, h("a", { href: "#/queue" }, "← 返回待办")), problemBox(err));
    return null;
  }
  const { c } = loaded;
  const catalog = await matterTypes().catch(() => []);
  const loc = c.location || {};
  const point = loc.lon != null ? { lon: loc.lon, lat: loc.lat } : null;
  const mapHolder = h("div", { id: "spot" }, h("p", { class: "muted small" }, point ? "正在加载位置示意图…" : ""));
  const placeName = h("span", { id: "case-place" }, (c.assignment && c.assignment.place) || "");
  const acting = await actingUnit(ctx.me, c);
  const offered = offeredActions(c, acting, await acceptedActions());
  const pendingBox = h("div", { id: "case-pending" });
  const sheet = h("div", { id: "action-sheet" });
  const photosHolder = h("div", {});
  const buttons = h("div", { class: "actions", id: "case-actions" });

  const send = async (action, extra = {}, photos = []) => {
    const id = newKey("action");
    await enqueue({
      id, kind: "action", caseId, photos,
      summary: `${label(ACTIONS, action)} · ${c.case_number}`,
      body: { action, actor: { unit: acting.unit }, ...extra },
    });
    clear(sheet);
  };

  const forms = {
    accept: () => send("accept"),
    start: () => send("start"),
    progress: () => open("进展", "action-progress", [h("label", {}, "处置进展", h("textarea", { name: "text", required: true, maxlength: "2000" }))],
      (data) => send("progress", { text: data.get("text").trim() })),
    resolve: () => {
      const before = photoPicker({ role: "before", title: "处置前照片", id: "photo-before" });
      const after = photoPicker({ role: "after", title: "处置后照片", id: "photo-after" });
      open("办结", "action-resolve", [
        h("label", {}, "处置结果", h("textarea", { name: "text", required: true, maxlength: "2000", placeholder: "如：已清理完毕，通道恢复畅通" })),
        before.element, after.element,
      ], (data) => send("resolve", { text: data.get("text").trim() }, [...before.photos(), ...after.photos()]));
    },
    return: () => open("退单", "action-return", [
      h("label", {}, "退单原因",
        h("select", { name: "reason_code", required: true },
          h("option", { value: "" }, "请选择原因"),
          Object.entries(RETURN_REASONS).map(([code, text]) => h("option", { value: code }, text)))),
      h("label", {}, "说明", h("textarea", { name: "text", required: true, maxlength: "2000", placeholder: "如：该处属于相邻网格" })),
    ], (data) => send("return", { reason_code: data.get("reason_code"), text: data.get("text").trim() })),
    report_up: () => open("上报上级", "action-report-up", [
      h("p", { class: "small muted" }, "本单位无法解决的事项，报请上一级决定（上级接办、指派部门或退回）。"),
      h("label", {}, "上报理由", h("textarea", { name: "text", required: true, maxlength: "2000" })),
    ], (data) => send("report_up", { text: data.get("text").trim() })),
  };

  function open(title, id, fields, submit) {
    const form = h("form", { class: "sheet stack", id },
      h("h3", {}, title), fields,
      h("div", { class: "row" },
        h("button", { type: "button", onclick: () => clear(sheet) }, "取消"),
        h("button", { type: "submit", class: "primary" }, `提交${title}`)),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      form.querySelector("button[type=submit]").disabled = true;
      await submit(new FormData(form));
    });
    clear(sheet, form);
    form.scrollIntoView({ block: "start" });
    const first = form.querySelector("textarea, select");
    if (first) first.focus();
  }

  const drawButtons = async () => {
    const mine = (await outboxItems()).filter((x) => x.caseId === caseId);
    const waiting = mine.filter((x) => x.status === "pending" || x.status === "sending");
    clear(pendingBox,
      waiting.map((x) => h("p", { class: "notice", dataset: { status: x.status } },
        `${x.summary}：${x.status === "sending" ? "正在发送…" : navigator.onLine === false ? "离线，已保存在手机上，联网后自动发送" : "等待发送"}`)),
      mine.filter((x) => x.status === "failed").map((x) => h("div", { class: "problem", dataset: { status: "failed" } },
        `${x.summary} 未成功：${x.error}`, " ", h("a", { href: "#/outbox" }, "查看待发送"))));
    if (!acting) {
      clear(buttons, h("p", { class: "muted" }, "您不是此案件的责任单位，只能查看。"));
      return;
    }
    clear(buttons, offered.length === 0
      ? h("p", { class: "muted" }, "当前状态下没有需要您做的操作。")
      : offered.map((action, n) => h("button", {
          type: "button", id: `do-${action}`, class: n === 0 ? "primary" : action === "return" ? "danger" : "",
          disabled: waiting.length > 0, onclick: () => forms[action](),
        }, label(ACTIONS, action))));
  };

  clear(main,
    h("article", { class: "case", dataset: { caseId, state: c.state } },
      h("p", {}, h("a", { href: "#/queue" }, "← 返回待办")),
      loaded.offline ? h("p", { class: "notice" }, `离线：显示的是 ${fmtTime(new Date(loaded.at).toISOString())} 的内容。`) : null,
      h("h2", {}, c.title || matterName(catalog, c.matter_code)),
      h("p", {},
        h("span", { class: "state", id: "case-state" }, label(STATES, c.state)), " ",
        c.deadlines ? h("span", { class: badge(c.deadlines.warning), id: "case-warning" }, label(WARNINGS, c.deadlines.warning)) : null,
        h("span", { class: "muted small" }, ` ${c.case_number || ""}`)),
      pendingBox,
      h("div", { id: "case-notice", "aria-live": "polite" }, rejectedNotice(c, ctx)),
      buttons,
      sheet,
      h("section", { class: "card" }, h("h3", {}, "事项"),
        facts([
          ["类别", matterName(catalog, c.matter_code)],
          ["描述", c.description],
          ["地址", loc.address],
          ["网格", placeName],
          ["受理", fmtTime(c.received_at)],
        ])),
      h("section", { class: "card" }, h("h3", {}, "位置"), mapHolder,
        point ? h("a", { class: "small", href: `geo:${point.lat},${point.lon}` }, `${point.lat.toFixed(5)}, ${point.lon.toFixed(5)} 在地图应用中打开`) : null),
      photosHolder,
      h("section", { class: "card" }, h("h3", {}, "时限"), deadlineList(c)),
      h("section", { class: "card" }, h("h3", {}, "办理过程"), timeline(c)),
    ),
  );
  await drawButtons();

  // The spot, when online: the micro-grid holding the point (or the case's place) on its grid's outline.
  placeOf(point, c.assignment && c.assignment.place).then((place) => {
    if (!place || !main.isConnected) return;
    const names = [place.grid && place.grid.name, place.unit && place.unit.level === "micro_grid" ? place.unit.name : null].filter(Boolean);
    if (names.length) placeName.textContent = names.join(" · ");
    clear(mapHolder, spotMap(place, point) || h("p", { class: "muted small" }, "无边界数据，无法绘制示意图。"));
  }).catch(() => clear(mapHolder, h("p", { class: "muted small" }, "离线：位置示意图联网后显示。")));

  if (!loaded.offline) showPhotos(caseId, photosHolder);
  page.drawButtons = drawButtons;
  return c;
}

/** The case page: drawn, then drawn again (one drawing at a time) when our action was sent or an event about
 * the case arrives, unless the person is filling in a form. */
export async function renderCase(main, ctx, caseId) {
  const page = { disposed: false, shown: null, drawing: null, again: false, drawButtons: null };
  let timer = null;
  const formOpen = () => {
    const sheet = main.querySelector("#action-sheet");
    return Boolean(sheet && sheet.childNodes.length);
  };
  const draw = () => {
    if (page.drawing) {
      page.again = true;
      return page.drawing;
    }
    page.drawing = (async () => {
      do {
        page.again = false;
        if (page.disposed || (page.shown && formOpen())) break;
        page.shown = await drawCase(main, ctx, caseId, page);
      } while (page.again);
    })().finally(() => {
      page.drawing = null;
    });
    return page.drawing;
  };
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(draw, 700);
  };
  // After a 202, dispatch applies the step in the background: look until the case shows it.
  const poll = (length, state, tries = 0) => {
    setTimeout(async () => {
      if (page.disposed) return;
      const fresh = await api(`/v1/cases/${caseId}`).catch(() => null);
      if (fresh && ((fresh.history || []).length !== length || fresh.state !== state)) soon();
      else if (tries < 60) poll(length, state, tries + 1);
    }, 1000);
  };
  const stopOutbox = onOutboxChange((event) => {
    if (page.disposed) return;
    const ours = event.item && event.item.caseId === caseId;
    if (event.type === "sent" && ours) {
      const notice = main.querySelector("#case-notice");
      if (notice) clear(notice, h("p", { class: "done" }, `${event.item.summary}：已提交，正在处理…`));
      const shown = page.shown || {};
      poll((shown.history || []).length, shown.state);
      if (page.drawButtons) page.drawButtons();
    } else if (event.type === "failed" && ours) {
      soon();
    } else if (page.drawButtons) {
      page.drawButtons();
    }
  });
  const stopLive = onLiveEvent((event) => {
    if (event.data && event.data.subject === caseId) soon();
  });
  await draw();
  return () => {
    page.disposed = true;
    clearTimeout(timer);
    stopOutbox();
    stopLive();
  };
}
