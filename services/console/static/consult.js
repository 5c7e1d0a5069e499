// 会商: a case's consultation (the street or community that convened it, the units and departments invited, by
// when their opinions are due, the opinions given) and its actions: a street or community convenes (发起会商), an
// invited party answers (提出意见), the convener records the outcome (会商结论: the decided lead and assisting units,
// which re-dispatches the case). The district convenes on behalf of the case's street (区代街道: the street is the
// convener, the history's `on_behalf_of` says so) and records the outcome of what it convened for it. GET /v1/cases/{id} shows `consultation`; the actions go through
// POST /v1/cases/{id}/actions (docs/routing.md#consultation-会商, docs/intake-api.md).

import { partyName } from "./api.js";
import { fmtTime, h } from "./dom.js";

const IN_HANDLING = ["assigned", "accepted", "in_progress", "reopened"];
const PARTY = /^(unit|branch|department):[A-Za-z0-9_.-]{1,64}$/;

function parties(text) {
  const listed = String(text || "").split(/[,，\s]+/).filter(Boolean);
  const bad = listed.filter((p) => !PARTY.test(p));
  if (bad.length) throw new Error(`编码须为 unit:、branch: 或 department: 开头：${bad.join("、")}`);
  return listed;
}

function facts(held, depts) {
  if (!held.consultation_id) return h("p", { class: "muted", id: "consultation-none" }, "本案无进行中的会商。");
  const given = Object.fromEntries((held.opinions || []).map((o) => [o.party, o]));
  return h("div", { id: "consultation" },
    h("dl", { class: "facts" },
      h("dt", {}, "召集单位"), h("dd", { id: "consultation-convener" }, partyName(held.convener, depts)),
      h("dt", {}, "议题"), h("dd", {}, held.topic || "—"),
      h("dt", {}, "意见截止"), h("dd", { id: "consultation-due" },
        `${fmtTime(held.opinions_by)}${held.closed ? "（已截止，待记录结论）" : ""}`),
    ),
    h("table", { class: "consultation", id: "consultation-opinions" },
      h("thead", {}, h("tr", {}, ["受邀单位", "意见", "提出人", "时间"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {},
        (held.invited || []).map((p) => {
          const o = given[p];
          return h("tr", { dataset: { party: p, answered: o ? "yes" : "no" } },
            h("td", {}, partyName(p, depts)),
            h("td", {}, o ? o.text : held.closed ? "逾期未提出" : "待提出"),
            h("td", {}, o ? o.person : "—"),
            h("td", {}, o ? fmtTime(o.at) : "—"),
          );
        }),
      ),
    ),
  );
}

function deptChecks(name, depts) {
  return depts.length
    ? h("fieldset", { class: "checks" }, h("legend", {}, "部门"),
        depts.map((d) => h("label", {}, h("input", { type: "checkbox", name, value: `department:${d.code}` }), d.name)))
    : null;
}

function conveneForm({ ctx, caseId, form, onDone, depts, district }) {
  return form({
    id: "action-convene", title: "发起会商", ctx, caseId, onDone,
    hint: district
      ? "区代表案件所在街道发起会商（会商以街道名义召集，记录中注明由区代表），各受邀单位须在截止时间前提出意见。"
      : "街道或社区邀请单位、部门会商本案，各受邀单位须在截止时间前提出意见；区可代表案件所在街道发起。",
    fields: [
      deptChecks("invited", depts),
      h("label", {}, "其他受邀单位编码（逗号分隔）", h("input", { name: "invited_text", placeholder: "unit:610199004001, branch:city_management-610199004" })),
      h("label", {}, "意见截止（可不填：按事项清单）", h("input", { type: "datetime-local", name: "opinions_by" })),
      h("label", {}, "会商议题", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
    ],
    build: (data) => {
      const invited = [...data.getAll("invited").map(String), ...parties(data.get("invited_text"))];
      if (!invited.length) throw new Error("请至少邀请一个单位或部门。");
      const raw = String(data.get("opinions_by") || "");
      const body = { action: "convene", invited, text: String(data.get("text")).trim() };
      if (raw) {
        const due = new Date(raw);
        if (Number.isNaN(due.getTime()) || due.getTime() <= Date.now()) throw new Error("意见截止时间须晚于现在。");
        body.opinions_by = due.toISOString();
      }
      return body;
    },
  });
}

function outcomeForm({ c, held, ctx, caseId, form, onDone, depts }) {
  const choices = [...new Set([...(held.invited || []), (c.assignment || {}).lead].filter(Boolean))];
  return form({
    id: "action-record-outcome", title: "记录会商结论", ctx, caseId, onDone,
    hint: "按会商结论确定主办单位和协办单位，案件将重新派遣。",
    fields: [
      h("label", {}, "主办单位",
        h("select", { name: "unit" }, h("option", { value: "" }, "请选择"),
          choices.map((p) => h("option", { value: p }, partyName(p, depts))))),
      h("label", {}, "或输入主办单位编码", h("input", { name: "unit_text", placeholder: "department:police" })),
      h("fieldset", { class: "checks" }, h("legend", {}, "协办单位"),
        choices.map((p) => h("label", {}, h("input", { type: "checkbox", name: "assisting", value: p }), partyName(p, depts)))),
      h("label", {}, "会商结论", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
    ],
    build: (data) => {
      const unit = String(data.get("unit_text") || "").trim() || String(data.get("unit") || "");
      if (!unit) throw new Error("请选择或输入主办单位。");
      parties(unit);
      const assisting = data.getAll("assisting").map(String).filter((p) => p !== unit);
      return { action: "record_outcome", unit, assisting, text: String(data.get("text")).trim() };
    },
  });
}

/**
 * The case page's consultation card and forms. `form` is the case page's action form builder (actionForm).
 * Returns {section, forms}.
 */
export function consultPanel({ c, ctx, caseId, form, onDone, depts }) {
  const held = c.consultation || {};
  const list = depts || [];
  const section = h("section", { class: "card", id: "consultation-card" }, h("h3", {}, "会商"), facts(held, list));
  if (!IN_HANDLING.includes(c.state)) return { section, forms: [] };
  const supervise = ctx.me.scopes.includes("supervise");
  const mine = (unit) => Boolean(unit) && (ctx.actorUnit === unit || (ctx.me.units || []).includes(unit));
  const open = Boolean(held.consultation_id);
  const districtUnit = ctx.config && ctx.config.district ? `unit:${ctx.config.district}` : null;
  const district = Boolean(districtUnit) && mine(districtUnit);
  // the district records the outcome of a consultation it convened for the street (the convene entry says so)
  const forStreet = open && district && (c.history || []).some((e) => e.action === "convene"
    && (e.detail || {}).consultation_id === held.consultation_id && (e.detail || {}).on_behalf_of === held.convener);
  const invited = open && !held.closed && (held.invited || []).some(mine)
    && !(held.opinions || []).some((o) => mine(o.party));
  const forms = [
    supervise && !open && conveneForm({ ctx, caseId, form, onDone, depts: list, district }),
    invited && form({
      id: "action-give-opinion", title: "提出会商意见", ctx, caseId, onDone,
      hint: `请在 ${fmtTime(held.opinions_by)} 前提出本单位意见，逾期不再受理。`,
      fields: h("label", {}, "意见", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      build: (data) => ({ action: "give_opinion", text: String(data.get("text")).trim() }),
    }),
    supervise && open && (mine(held.convener) || forStreet)
      && outcomeForm({ c, held, ctx, caseId, form, onDone, depts: list }),
  ].filter(Boolean);
  return { section, forms };
}
