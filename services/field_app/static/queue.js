// 我的待办 (GET /v1/me/queue) and 本单位待办 (GET /v1/me/unit-queue): open cases, due soonest first, each with its
// warning colour as a block and a word (红牌 超时, 黄牌 预警, 蓝牌 正常). The last answer is kept on the device so
// the list still shows offline. New assignments arrive on the live stream and reload it.

import { ApiError, api, problemBox } from "./api.js";
import { matterName, matterTypes } from "./catalog.js";
import { clear, fmtRemaining, fmtTime, h } from "./dom.js";
import { STATES, WARNINGS, badge, label } from "./labels.js";
import { onLiveEvent } from "./live.js";

const QUEUES = {
  mine: { path: "/v1/me/queue", title: "我的待办", href: "#/queue", empty: "您目前没有待办案件。" },
  unit: { path: "/v1/me/unit-queue", title: "本单位待办", href: "#/queue/unit", empty: "本单位目前没有待办案件。" },
};
const STORE = "griddispatch.app.queue.";
const fresh = new Set(); // cases that arrived live while the app was open: they flash once

export function markFresh(caseId) {
  fresh.add(caseId);
}

function dueOf(item) {
  const d = item.deadlines || {};
  const due = item.due_next || d.accept_by || d.resolve_by || null;
  const kind = due && due === d.accept_by ? "签收时限" : "办结时限";
  return { due, kind };
}

function card(item, catalog) {
  const colour = (item.deadlines && item.deadlines.warning) || "none";
  const { due, kind } = dueOf(item);
  const id = item.case_id;
  const isFresh = fresh.delete(id);
  return h("li", { dataset: { caseId: id, warning: colour } },
    h("a", { class: `item warn-${colour}${isFresh ? " fresh" : ""}`, href: `#/case/${id}` },
      h("div", { class: "item-top" },
        h("span", { class: badge(colour) }, label(WARNINGS, colour)),
        h("span", { class: "state" }, label(STATES, item.state)),
      ),
      h("strong", { class: "item-title" }, item.title || matterName(catalog, item.matter_code)),
      h("div", { class: colour === "red" ? "due-red" : "" },
        due ? `${kind} ${fmtTime(due)} · ${fmtRemaining(due)}` : "无时限"),
      h("div", { class: "muted small" }, [item.case_number, matterName(catalog, item.matter_code)].filter(Boolean).join(" · ")),
    ),
  );
}

function stored(which) {
  try {
    return JSON.parse(localStorage.getItem(STORE + which) || "null");
  } catch {
    return null;
  }
}

export async function renderQueue(main, ctx, which = "mine") {
  const queue = QUEUES[which] || QUEUES.mine;
  const catalog = await matterTypes().catch(() => []);
  const list = h("ol", { class: "queue", id: "queue", dataset: { queue: which } });
  const message = h("div", {});
  const updated = h("p", { class: "muted small", id: "queue-updated" });
  clear(main,
    h("section", {},
      h("nav", { class: "switch", "aria-label": "待办" },
        Object.entries(QUEUES).map(([name, q]) => h("a", { href: q.href, "aria-current": name === which ? "page" : null }, q.title))),
      h("p", { class: "legend" },
        h("span", { class: badge("red") }, "红牌 超时"), h("span", { class: badge("yellow") }, "黄牌 预警"),
        h("span", { class: badge("blue") }, "蓝牌 正常"), h("span", { class: "muted" }, "按截止时间先后排列")),
      message,
      list,
      updated,
    ),
  );

  const show = (items, at, offline) => {
    clear(list, items.length ? items.map((x) => card(x, catalog)) : h("li", { class: "empty muted" }, queue.empty));
    updated.textContent = `共 ${items.length} 件 · ${offline ? "离线，显示的是" : "更新于"} ${fmtTime(new Date(at).toISOString())}${offline ? " 的列表" : ""}`;
  };
  const load = async () => {
    try {
      const answer = await api(queue.path);
      clear(message);
      localStorage.setItem(STORE + which, JSON.stringify({ at: Date.now(), items: answer.items || [] }));
      show(answer.items || [], Date.now(), false);
    } catch (err) {
      const copy = stored(which);
      if (err instanceof ApiError && err.status === 0 && copy) {
        clear(message, h("p", { class: "notice" }, "当前离线：列表为上次联网时的内容。"));
        show(copy.items, copy.at, true);
      } else {
        clear(message, problemBox(err));
      }
    }
  };
  await load();
  let timer = null;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(load, 600);
  };
  const stop = onLiveEvent(soon);
  const every = setInterval(load, 60000); // the colours move with the clock
  window.addEventListener("online", load);
  return () => {
    stop();
    clearInterval(every);
    clearTimeout(timer);
    window.removeEventListener("online", load);
  };
}
