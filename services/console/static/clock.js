// 延期、挂起: a case's clock (the extension or suspension asked and waiting, the extensions approved, a suspension in
// force) and its actions: the lead asks (申请延期, 申请挂起), the supervising level decides (审批), either resumes
// (恢复计时). GET /v1/cases/{id} shows `clock`; the actions go through POST /v1/cases/{id}/actions
// (docs/routing.md#extension-and-suspension-the-clock, docs/intake-api.md).

import { fmtTime, h } from "./dom.js";

const CLOCK_STATES = ["accepted", "in_progress", "reopened"];
const REASONS = { waiting_resident: "等待群众（住户）配合", other_authority: "等待其他机关处理", other: "其他" };

function facts(clock) {
  const asked = clock.extension_asked;
  const pause = clock.suspension_asked;
  const held = clock.suspended;
  return h("dl", { class: "facts", id: "clock" },
    h("dt", {}, "已批准延期"), h("dd", { id: "clock-extensions" }, `${clock.extensions || 0} 次`),
    h("dt", {}, "延期申请"), h("dd", { id: "clock-extension-asked" },
      asked ? `申请延至 ${fmtTime(asked.resolve_by)}：${asked.reason || ""}（待审批）` : "无"),
    h("dt", {}, "挂起"), h("dd", { id: "clock-suspended" },
      held ? `自 ${fmtTime(held.since)} 起挂起：${held.asked.reason || ""}` : pause ? `申请挂起：${pause.reason || ""}（待审批）` : "未挂起"),
  );
}

function decision(id, title, action, hint, ctx, caseId, form, onDone) {
  return form({
    id, title, ctx, caseId, onDone, hint,
    fields: [
      h("label", {}, "审批意见",
        h("select", { name: "approved" }, h("option", { value: "true" }, "批准"), h("option", { value: "false" }, "不批准"))),
      h("label", {}, "说明（可不填）", h("textarea", { name: "text", maxlength: "2000", rows: "2" })),
    ],
    build: (data) => {
      const text = String(data.get("text") || "").trim();
      return { action, approved: String(data.get("approved")) === "true", ...(text ? { text } : {}) };
    },
  });
}

/**
 * The case page's clock card and forms. `form` is the case page's action form builder (actionForm), `isLead`
 * whether the one acting may ask for the lead. Returns {section, forms}.
 */
export function clockPanel({ c, ctx, caseId, form, onDone, isLead }) {
  const clock = c.clock || {};
  const section = h("section", { class: "card", id: "clock-card" }, h("h3", {}, "延期与挂起"), facts(clock));
  const running = CLOCK_STATES.includes(c.state);
  const supervise = ctx.me.scopes.includes("supervise");
  const held = Boolean(clock.suspended);
  const forms = !running ? [] : [
    isLead && !held && !clock.extension_asked && form({
      id: "action-request-extension", title: "申请延期", ctx, caseId, onDone,
      hint: "向上级督办单位申请新的办结时限；批准后时限与预警随之调整。次数和最长天数以事项清单为准。",
      fields: [
        h("label", {}, "申请延至", h("input", { type: "datetime-local", name: "resolve_by", required: true })),
        h("label", {}, "延期理由", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      ],
      build: (data) => {
        const due = new Date(String(data.get("resolve_by")));
        if (Number.isNaN(due.getTime()) || due.getTime() <= Date.now()) throw new Error("新的办结时限须晚于现在。");
        return { action: "request_extension", resolve_by: due.toISOString(), text: String(data.get("text")).trim() };
      },
    }),
    isLead && !held && !clock.suspension_asked && form({
      id: "action-request-suspension", title: "申请挂起", ctx, caseId, onDone,
      hint: "因等待群众配合或其他机关处理而暂停计时；批准后办结时限暂停，恢复后按剩余工作时间重新计算。",
      fields: [
        h("label", {}, "挂起原因",
          h("select", { name: "reason_code" }, Object.entries(REASONS).map(([v, t]) => h("option", { value: v }, t)))),
        h("label", {}, "说明", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      ],
      build: (data) => ({
        action: "request_suspension", reason_code: String(data.get("reason_code")), text: String(data.get("text")).trim(),
      }),
    }),
    supervise && clock.extension_asked && decision("action-decide-extension", "审批延期", "decide_extension",
      "批准后办结时限改为申请的时间。", ctx, caseId, form, onDone),
    supervise && clock.suspension_asked && decision("action-decide-suspension", "审批挂起", "decide_suspension",
      "批准后办结时限停止计时。", ctx, caseId, form, onDone),
    held && (isLead || supervise) && form({
      id: "action-resume", title: "恢复计时", ctx, caseId, onDone,
      hint: "按挂起时剩余的工作时间重新计算办结时限。",
      fields: h("label", {}, "说明（可不填）", h("textarea", { name: "text", maxlength: "2000", rows: "2" })),
      build: (data) => {
        const text = String(data.get("text") || "").trim();
        return { action: "resume", ...(text ? { text } : {}) };
      },
    }),
  ].filter(Boolean);
  return { section, forms };
}
