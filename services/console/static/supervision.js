// 督办: a case's supervision (its supervisor, its supervision orders with their state, its urges) and the
// supervising level's actions (催办, 下发督办单) and the lead's (回复督办单). GET /v1/cases/{id}/supervision;
// the actions go through POST /v1/cases/{id}/actions like every other (docs/routing.md, docs/intake-api.md).

import { api, partyName, problemBox } from "./api.js";
import { clear, fmtTime, h } from "./dom.js";

export const ORDER_COLOURS = { yellow: "黄牌督办", red: "红牌督办" };
export const ORDER_STATES = {
  open: "待回复",
  answered: "已按时回复",
  answered_late: "逾期回复",
  escalated: "逾期未回复（已升级）",
  void: "已失效",
};
const IN_HANDLING = ["assigned", "accepted", "in_progress", "reopened"];

function colourBadge(colour) {
  return h("span", { class: `badge badge-${colour === "red" ? "red" : "yellow"}` }, ORDER_COLOURS[colour] || colour);
}

function ordersTable(orders, depts) {
  if (!orders.length) return h("p", { class: "muted" }, "尚无督办单。");
  return h("table", { class: "orders", id: "supervision-orders" },
    h("thead", {}, h("tr", {}, ["督办单", "下发单位", "督办对象", "事由", "回复期限", "状态", "回复"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {},
      orders.map((o) =>
        h("tr", { dataset: { orderId: o.order_id, state: o.state } },
          h("td", {}, colourBadge(o.colour), o.automatic ? h("span", { class: "muted small" }, "（超时自动）") : null),
          h("td", {}, partyName(o.by, depts)),
          h("td", {}, partyName(o.to, depts)),
          h("td", {}, o.reason || "—"),
          h("td", {}, fmtTime(o.reply_by)),
          h("td", {}, ORDER_STATES[o.state] || o.state),
          h("td", { class: "small" }, o.reply ? `${o.reply}（${fmtTime(o.replied_at)}）` : "—"),
        ),
      ),
    ),
  );
}

async function load(caseId, holder, depts) {
  try {
    const s = await api(`/v1/cases/${caseId}/supervision`);
    clear(holder,
      h("dl", { class: "facts" },
        h("dt", {}, "督办单位"), h("dd", { id: "supervisor" }, s.supervisor ? partyName(s.supervisor, depts) : "无"),
        h("dt", {}, "超时次数"), h("dd", {}, String(s.misses || 0)),
        h("dt", {}, "催办"), h("dd", { id: "urges" }, s.urges.length ? `${s.urges.length} 次，最近：${s.urges[s.urges.length - 1].reason || ""}` : "无"),
      ),
      ordersTable(s.orders || [], depts),
    );
  } catch (err) {
    clear(holder, problemBox(err));
  }
}

/**
 * The case page's supervision card and forms. `form` is the case page's action form builder (actionForm),
 * `isLead` whether the one acting may answer for the lead. Returns {section, forms}.
 */
export function supervisionPanel({ c, ctx, caseId, form, onDone, depts, isLead }) {
  const holder = h("div", {}, h("p", { class: "muted" }, "正在加载…"));
  const section = h("section", { class: "card", id: "supervision" }, h("h3", {}, "督办"), holder);
  if (c.state !== "received") load(caseId, holder, depts);
  const handling = IN_HANDLING.includes(c.state);
  const supervise = ctx.me.scopes.includes("supervise");
  const open = ((c.supervision || {}).open_orders) || [];
  const forms = [
    supervise && handling && form({
      id: "action-urge", title: "催办", ctx, caseId, onDone,
      hint: "上级督办单位正式催促责任人尽快办理：记入办理过程，通知责任人，计入考核的“催办”。",
      fields: h("label", {}, "催办事由", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      build: (data) => ({ action: "urge", text: String(data.get("text")).trim() }),
    }),
    supervise && handling && form({
      id: "action-supervise-order", title: "下发督办单", ctx, caseId, onDone,
      hint: "主办单位须在回复期限内回复办理情况；逾期未回复的，由上一级下发红牌督办单，红牌仍未回复的提级办理。",
      fields: [
        h("label", {}, "督办等级",
          h("select", { name: "colour" }, Object.entries(ORDER_COLOURS).map(([v, t]) => h("option", { value: v }, t)))),
        h("label", {}, "回复期限（可不填，按事项清单）", h("input", { type: "datetime-local", name: "reply_by" })),
        h("label", {}, "督办事由", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      ],
      build: (data) => {
        const replyBy = String(data.get("reply_by") || "");
        const due = replyBy ? new Date(replyBy) : null;
        if (due && due.getTime() <= Date.now()) throw new Error("回复期限须晚于现在。");
        return {
          action: "supervise_order",
          colour: String(data.get("colour") || "yellow"),
          text: String(data.get("text")).trim(),
          ...(due ? { reply_by: due.toISOString() } : {}),
        };
      },
    }),
    isLead && handling && open.length > 0 && form({
      id: "action-reply-order", title: "回复督办单", ctx, caseId, onDone,
      hint: "向督办单位说明已采取的措施。",
      fields: [
        h("label", {}, "督办单",
          h("select", { name: "order_id" },
            open.map((o) => h("option", { value: o.order_id }, `${ORDER_COLOURS[o.colour] || o.colour}：${o.reason || ""}（${fmtTime(o.reply_by)}前）`)))),
        h("label", {}, "办理情况", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      ],
      build: (data) => ({ action: "reply_order", order_id: String(data.get("order_id")), text: String(data.get("text")).trim() }),
    }),
  ].filter(Boolean);
  return { section, forms };
}
