// 我的待办 (GET /v1/me/queue) and 本单位待办 (GET /v1/me/unit-queue): the open cases a signed-in person answers
// for, due soonest first, with their warning colours; cards that read on a phone as well as on a desk.

import { ApiError, api, matterName, matters, partyName, problemBox, units } from "./api.js";
import { caseWarning, warningBadge } from "./cases.js";
import { clear, debounce, fmtRemaining, fmtTime, h } from "./dom.js";
import { DEADLINES, STATES, WARNINGS, label } from "./labels.js";
import { onLiveEvent } from "./live.js";

export const QUEUES = {
  mine: { path: "/v1/me/queue", title: "我的待办", empty: "您目前没有待办案件。" },
  unit: { path: "/v1/me/unit-queue", title: "本单位待办", empty: "本单位目前没有待办案件。" },
};

const ORDER = { red: 0, yellow: 1, blue: 2, none: 3 };

/** The deadline an item is due by: the queue's own `due_at` (and `due_kind`), else the case's next one. */
export function dueOf(item) {
  const d = item.deadlines || {};
  const due = item.due_next || item.due_at || d.due_at || (item.state && ["accepted", "in_progress", "reopened"].includes(item.state)
    ? d.resolve_by
    : d.accept_by || d.resolve_by);
  const kind = item.due_kind || item.kind || (due && due === d.accept_by ? "accept" : due ? "resolve" : null);
  return { due: due || null, kind };
}

export function warningOf(item) {
  return item.warning || caseWarning(item);
}

/** Due soonest first (the API already orders them; kept here so a merged page stays in order), none last. */
export function sortQueue(items) {
  return [...items].sort((a, b) => {
    const da = dueOf(a).due;
    const db = dueOf(b).due;
    if (da && db && da !== db) return new Date(da) - new Date(db);
    if (da && !db) return -1;
    if (db && !da) return 1;
    return (ORDER[warningOf(a)] ?? 3) - (ORDER[warningOf(b)] ?? 3);
  });
}

function itemsOf(answer) {
  if (Array.isArray(answer)) return answer;
  return answer.items || answer.cases || [];
}

/** Whether intake has the queue endpoints (a 404 from the router itself, not "no such case"). */
export async function queueAvailable() {
  try {
    await api(QUEUES.mine.path);
    return true;
  } catch (err) {
    return !(err instanceof ApiError && (err.status === 404 || err.status === 405));
  }
}

/** Who answers for the case (本单位待办): 我, a colleague's name (else id), or nobody on duty (flagged). */
function responsibleText(item, me) {
  const r = item.responsible;
  if (!r || typeof r !== "object") return null;
  if (r.unstaffed) return "无人值守（无责任人）";
  if (!r.lead) return null;
  return r.lead === me ? "责任人：我" : `责任人：${r.lead_name || r.lead}`;
}

function card(item, catalog, depts, me, which) {
  const { due, kind } = dueOf(item);
  const colour = warningOf(item);
  const caseId = item.case_id || item.id;
  const lead = item.lead || (item.assignment && item.assignment.lead);
  return h("li", { class: `queue-item warn-${colour}`, dataset: { caseId, warning: colour } },
    h("a", { href: `#/cases/${caseId}`, class: "queue-link" },
      h("div", { class: "queue-top" },
        warningBadge(colour, (WARNINGS[colour] || WARNINGS.none).label),
        h("span", { class: `state state-${item.state}` }, label(STATES, item.state)),
        h("span", { class: "muted small case-number" }, item.case_number || ""),
      ),
      h("strong", { class: "queue-title" }, item.title || matterName(catalog, item.matter_code)),
      h("div", { class: "queue-due" },
        due
          ? [`${label(DEADLINES, kind)}：${fmtTime(due)}`, h("span", { class: `remaining remaining-${colour}` }, ` ${fmtRemaining(due)}`)]
          : h("span", { class: "muted" }, "无时限"),
      ),
      h("div", { class: "muted small" },
        [
          item.matter_code ? matterName(catalog, item.matter_code) : null,
          lead ? `主办：${partyName(lead, depts)}` : null,
          which === "unit" ? responsibleText(item, me) : null,
        ].filter(Boolean).join(" · "),
      ),
    ),
  );
}

/** 无人值班: the units of my area with nobody on duty now, and who answers for their new cases instead. */
function uncoveredBox(answer) {
  const items = (answer && answer.items) || [];
  if (items.length === 0) return h("p", { class: "muted small", id: "uncovered", dataset: { count: "0" } }, "本辖区需值班的单位当前均有人值班。");
  return h("details", { class: "uncovered", id: "uncovered", dataset: { count: String(items.length) } },
    h("summary", {}, h("span", { class: "badge badge-red" }, "无人值班"), ` 本辖区 ${items.length} 个单位当前无人值班`),
    h("ul", { class: "small" },
      items.map((u) => h("li", { dataset: { unit: u.unit, why: u.why } },
        u.name || u.unit, "：",
        u.answered_by ? `新案件由负责人 ${u.answered_by.name || u.answered_by.id} 接办` : "无负责人，新案件无人接办"))),
  );
}

/** The queue page: `which` is "mine" or "unit". */
export async function renderQueue(main, ctx, which = "mine") {
  const queue = QUEUES[which] || QUEUES.mine;
  const [catalog] = await Promise.all([matters(), units()]);
  const list = h("ol", { class: "queue", id: "queue", dataset: { queue: which } });
  const message = h("div", {});
  const uncovered = h("div", {});
  const updated = h("span", { class: "muted small", id: "queue-updated" });
  clear(main,
    h("section", { class: "page queue-page" },
      h("div", { class: "toolbar" },
        h("h2", {}, queue.title),
        h("nav", { class: "tabs", "aria-label": "待办" },
          Object.entries(QUEUES).map(([name, q]) =>
            h("a", { href: name === "mine" ? "#/queue" : "#/queue/unit", "aria-current": name === which ? "page" : null }, q.title)),
        ),
        updated,
      ),
      h("p", { class: "muted small legend-line" },
        warningBadge("red", "红牌"), " 已超时 ", warningBadge("yellow", "黄牌"), " 进入预警期 ", warningBadge("blue", "蓝牌"), " 正常；按截止时间先后排列。"),
      message,
      which === "unit" ? uncovered : null,
      list,
    ),
  );

  const load = async () => {
    let answer;
    try {
      answer = await api(queue.path);
    } catch (err) {
      clear(message, problemBox(err));
      return;
    }
    clear(message);
    if (which === "unit") {
      try {
        clear(uncovered, uncoveredBox(await api("/v1/duty/uncovered")));
      } catch (err) {
        clear(uncovered); // a key without the read scope: the queue still shows
      }
    }
    const items = sortQueue(itemsOf(answer));
    clear(list,
      items.length === 0 ? h("li", { class: "queue-empty muted" }, queue.empty) : items.map((x) => card(x, catalog, ctx.departments || [], ctx.person && ctx.person.id, which)),
    );
    updated.textContent = `共 ${items.length} 件 · 更新于 ${fmtTime(new Date().toISOString())}`;
  };
  await load();
  const soon = debounce(load, 800);
  const stop = onLiveEvent(() => soon());
  const every = setInterval(load, 60000); // the colours move with the clock even when nothing happens
  return () => {
    stop();
    clearInterval(every);
  };
}
