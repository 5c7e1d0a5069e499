// 上报: a case's report-up (the lead reports the matter is beyond its unit; the rung above decides by its deadline:
// 自办 take, 指派 assign a department or its branch, 退回 send back with an instruction; undecided it climbs a rung).
// GET /v1/cases/{id} shows the pending one as an open `report_up_decision` deadline and the steps in the history;
// the actions go through POST /v1/cases/{id}/actions (docs/routing.md#report-up-上报, docs/intake-api.md).

import { partyName } from "./api.js";
import { fmtTime, h } from "./dom.js";

const IN_HANDLING = ["assigned", "accepted", "in_progress", "reopened"];
export const DECISIONS = { take: "本级自办", assign: "指派部门办理", send_back: "退回并指示" };

/** The open decide-by of the case's pending report-up, if any (its party is the rung that owes the decision). */
export function pendingReportUp(c) {
  return ((c.deadlines || {}).items || []).find((d) => d.kind === "report_up_decision" && d.status === "open") || null;
}

function lastOf(c, actions) {
  const found = (c.history || []).filter((e) => actions.includes(e.action));
  return found.length ? found[found.length - 1] : null;
}

function facts(c, depts) {
  const owed = pendingReportUp(c);
  const asked = lastOf(c, ["report_up"]);
  const decided = lastOf(c, ["decide_report_up"]);
  const d = (decided && decided.detail) || {};
  return h("dl", { class: "facts", id: "report-up" },
    h("dt", {}, "待决上报"), h("dd", { id: "report-up-pending" },
      owed
        ? `已报 ${partyName(owed.party, depts)}，须于 ${fmtTime(owed.due_at)} 前决定：${(asked && asked.detail.reason) || ""}`
        : "无"),
    h("dt", {}, "最近决定"), h("dd", { id: "report-up-decided" },
      decided
        ? `${partyName(d.by, depts)}：${DECISIONS[d.decision] || d.decision}${d.decision === "assign" ? `（${partyName(d.lead, depts)}）` : ""}`
          + `${d.instruction ? `，${d.instruction}` : ""}${d.late ? "（逾期决定）" : ""}`
        : "无"),
  );
}

function decideForm({ ctx, caseId, form, onDone, depts, owed }) {
  return form({
    id: "action-decide-report-up", title: "上报决定", ctx, caseId, onDone,
    hint: `下级已上报 ${partyName(owed.party, depts)}（或其上级）决定：本级自办、指派部门，或退回并给出指示。逾期未决将自动报上一级。`,
    fields: [
      h("label", {}, "决定",
        h("select", { name: "decision" }, Object.entries(DECISIONS).map(([v, t]) => h("option", { value: v }, t)))),
      h("label", {}, "指派给（指派部门时）",
        h("select", { name: "unit" },
          h("option", { value: "" }, "请选择部门"),
          depts.map((x) => h("option", { value: `department:${x.code}` }, x.name)))),
      h("label", {}, "或输入编码", h("input", { name: "unit_text", placeholder: "branch:city_management-610199004" })),
      h("label", {}, "指示或说明（退回时必填）", h("textarea", { name: "text", maxlength: "2000", rows: "2" })),
    ],
    build: (data) => {
      const decision = String(data.get("decision"));
      const text = String(data.get("text") || "").trim();
      const unit = String(data.get("unit_text") || "").trim() || String(data.get("unit") || "");
      if (decision === "assign" && !unit) throw new Error("指派时请选择或输入部门（department: 或 branch:）。");
      if (decision === "send_back" && !text) throw new Error("退回时请填写指示。");
      return { action: "decide_report_up", decision, ...(decision === "assign" ? { unit } : {}), ...(text ? { text } : {}) };
    },
  });
}

/**
 * The case page's report-up card and forms. `form` is the case page's action form builder (actionForm), `isLead`
 * whether the one acting may act for the lead. Returns {section, forms}.
 */
export function reportUpPanel({ c, ctx, caseId, form, onDone, depts, isLead }) {
  const section = h("section", { class: "card", id: "report-up-card" }, h("h3", {}, "上报"), facts(c, depts || []));
  const owed = pendingReportUp(c);
  const handling = IN_HANDLING.includes(c.state);
  const supervise = ctx.me.scopes.includes("supervise");
  const forms = !handling ? [] : [
    isLead && !owed && form({
      id: "action-report-up", title: "上报", ctx, caseId, onDone,
      hint: "事项超出本单位处置能力时报上一级，由其在时限内决定自办、指派部门或退回。",
      fields: h("label", {}, "上报理由", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      build: (data) => ({ action: "report_up", text: String(data.get("text")).trim() }),
    }),
    supervise && owed && decideForm({ ctx, caseId, form, onDone, depts: depts || [], owed }),
  ].filter(Boolean);
  return { section, forms };
}
