// 案件详情: summary, deadlines with their warning colours, routing trace, timeline, deliveries, and the
// command centre's actions (重新派遣, 召集部门, 作废, 评论; 督办: 催办, 督办单, supervision.js).

import { api, ApiError, matterName, matters, partyName, problemBox, units, unitByCode } from "./api.js";
import { caseWarning, warningBadge } from "./cases.js";
import { clear, fmtRemaining, fmtTime, h } from "./dom.js";
import {
  ACTIONS, AWAITING_ACCEPT, CHANNELS, DEADLINES, DELIVERY_STATUS, EVENT_TYPES, LEVELS, OPEN_STATES, PERSON_ROLES, ROLES, SOURCES, STATES,
  URGENCY, label,
} from "./labels.js";
import { onLiveEvent } from "./live.js";
import { supervisionPanel } from "./supervision.js";
import { clockPanel } from "./clock.js";
import { LOCATED_BY, traceLines } from "./trace_text.js";
import { deadlineGroups, deliverySummary, noteText, refusalText, repeatText, timelineLines } from "./history_text.js";
import { offeredTo } from "./allowed.js";
import { unitPicker } from "./unit_picker.js";

const ACTOR_KEY = "griddispatch.console.actor";
const DEADLINE_STATUS = { open: "计时中", met: "已完成", void: "已失效" };

function newKey() {
  if (crypto.randomUUID) return `console-${crypto.randomUUID()}`;
  return `console-${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** Deadlines as rows: the API's list when it gives one, else accept-by and resolve-by. */
export function deadlineRows(c) {
  const d = c.deadlines || {};
  const list = Array.isArray(d.items) ? d.items : Array.isArray(d.list) ? d.list : null;
  if (list) {
    return list.map((x) => ({
      name: label(DEADLINES, x.kind || x.name || x.type),
      party: x.party || x.assignee || null,
      due: x.due_at || x.due || x.at,
      warning: x.warning || "none",
      status: x.status || null,
      closedAt: x.closed_at || null,
    }));
  }
  const notAccepted = AWAITING_ACCEPT.includes(c.state);
  const open = OPEN_STATES.includes(c.state);
  const colourOf = (due, running) => {
    if (!due || !running) return "none";
    if (new Date(due).getTime() <= Date.now()) return "red";
    return d.warnings && d.warnings[due] ? d.warnings[due] : "blue";
  };
  const rows = [];
  if (d.accept_by) rows.push({ name: "签收时限", due: d.accept_by, warning: d.accept_warning || colourOf(d.accept_by, notAccepted) });
  if (d.resolve_by) rows.push({ name: "办结时限", due: d.resolve_by, warning: d.resolve_warning || colourOf(d.resolve_by, open) });
  return rows;
}

/** Who took a step: 「张伟 · 网格员 · 主办 · 西关街道第1网格」 for a person, role · unit · id for a system. */
export function actorText(actor, depts = [], names = {}) {
  if (!actor) return "—";
  const parts = [];
  if (actor.name) parts.push(actor.name);
  const personRole = actor.person_role || actor.person_roles;
  if (personRole) parts.push([].concat(personRole).map((r) => label(PERSON_ROLES, r)).join("、"));
  if (actor.role) parts.push(label(ROLES, actor.role));
  if (actor.unit) parts.push(names[actor.unit] || partyName(actor.unit, depts));
  // The system's own steps and a resident's (a client's uuid) need no id: the role says who.
  const machine = actor.role === "system" || (actor.role === "resident" && /^[0-9a-f-]{36}$/i.test(actor.id || ""));
  if (!actor.name && actor.id && !machine) parts.push(actor.id);
  return parts.join(" · ") || "—";
}

/** The lead's responsible person (派单到人): 我, their name (else id), or nobody on duty; null without the field. */
function responsibleText(r, person) {
  if (!r) return null;
  if (r.unstaffed) return h("span", { class: "badge badge-red", id: "responsible" }, "无人值守（无责任人）");
  if (!r.lead) return null;
  return h("span", { id: "responsible", dataset: { person: r.lead } }, person && r.lead === person.id ? "我" : r.lead_name || r.lead);
}

function dl(pairs, wide = false) {
  return h("dl", { class: wide ? "facts wide" : "facts" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** A small panel that sits beside the next one (the page fits a screen or two). */
function half(el) {
  if (el && el.classList) el.classList.add("half");
  return el;
}

function section(title, ...content) {
  return h("section", { class: "card" }, h("h3", {}, title), ...content);
}

async function loadDeliveries(caseId, holder) {
  try {
    const answer = await api(`/v1/cases/${caseId}/deliveries`);
    const items = answer.items || answer.deliveries || [];
    clear(holder,
      items.length === 0
        ? h("p", { class: "muted" }, "尚无通知记录。")
        : h("details", { class: "deliveries-fold" },
          h("summary", { id: "deliveries-summary" }, deliverySummary(items, (st) => label(DELIVERY_STATUS, st))),
          h("table", { class: "deliveries" },
            h("thead", {}, h("tr", {}, ["渠道", "对象", "事件", "状态", "尝试次数", "最后错误", "创建", "送达/最近尝试"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {},
              items.map((x) =>
                h("tr", {},
                  h("td", {}, label(CHANNELS, x.channel)),
                  h("td", {}, x.target || x.recipient || "—"),
                  h("td", {}, label(EVENT_TYPES, x.event_type || x.type)),
                  h("td", {}, h("span", { class: `delivery delivery-${x.status}` }, label(DELIVERY_STATUS, x.status))),
                  h("td", {}, x.attempts ?? "—"),
                  h("td", { class: "small" }, x.last_error || "—"),
                  h("td", {}, fmtTime(x.created_at)),
                  h("td", {}, fmtTime(x.delivered_at || x.last_attempt_at)),
                ),
              ),
            ),
          ),
        ),
    );
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404 && err.problem.detail === "Not Found";
    clear(holder, missing ? h("p", { class: "muted" }, "通知记录接口暂不可用。") : problemBox(err));
  }
}

/**
 * The units a signed-in person may act for on this case: the case's parties (lead, assisting) that lie in the
 * person's units, then (to supervise) the person's own units. Each {unit, role} with the case role it gives.
 */
export function actingUnits(ctx, c) {
  const me = ctx.me;
  // A unit party within one of the person's units (micro-grids included: walk up the registry's parents).
  const holds = (party) => {
    if (me.sees_all || me.units.includes(party)) return true;
    const [kind, code] = party.split(":");
    if (kind !== "unit") return false;
    for (let unit = unitByCode(code), n = 0; unit && n < 16; unit = unitByCode(unit.parent), n++) {
      if (me.units.includes(`unit:${unit.code}`)) return true;
    }
    return false;
  };
  const a = c.assignment || {};
  const out = [];
  const seen = new Set();
  const add = (unit, role) => {
    if (!unit || seen.has(unit)) return;
    seen.add(unit);
    out.push({ unit, role });
  };
  if (a.lead && holds(a.lead)) add(a.lead, "assignee");
  for (const p of a.assisting || []) if (holds(p)) add(p, "assisting");
  for (const p of (c.progress && c.progress.owing) || []) if (holds(p)) add(p, "assisting");
  if (me.scopes.includes("supervise")) for (const u of me.units) if (u !== "*") add(u, "supervisor");
  if (me.sees_all && me.scopes.includes("supervise")) add(`unit:${ctx.config.district}`, "supervisor");
  return out;
}

/** Who acts, for a person: their name and the unit they act for (the token says who; the body only which unit). */
function personActor(ctx, options, depts) {
  const p = ctx.person;
  const roles = (p.roles || []).map((r) => label(PERSON_ROLES, typeof r === "string" ? r.split("@")[0] : r.role));
  return [
    h("p", { class: "acting-as", id: "acting-as" }, "操作人：", h("strong", {}, p.name || ctx.me.name),
      roles.length ? h("span", { class: "muted small" }, `（${[...new Set(roles)].join("、")}）`) : null),
    options.length
      ? h("label", {}, "代表单位",
          h("select", { id: "actor-unit", name: "actor_unit" },
            options.map((o) => h("option", { value: o.unit }, `${partyName(o.unit, depts)}（${label(ROLES, o.role)}）`)),
          ),
        )
      : h("p", { class: "muted small" }, "您不是此案件的相关单位。"),
  ];
}

function actorField() {
  return h("label", {}, "操作人（值班员）",
    h("input", {
      id: "actor-id", name: "actor", required: true, maxlength: "64", value: sessionStorage.getItem(ACTOR_KEY) || "",
      placeholder: "值班员姓名或工号", onchange: (e) => sessionStorage.setItem(ACTOR_KEY, e.target.value.trim()),
    }),
  );
}

/** One action form: builds the body, posts it, shows the 202 and then the case as it becomes. */
function actionForm({ id, title, hint, fields, build, ctx, caseId, onDone }) {
  const result = h("div", { class: "action-result", "aria-live": "polite" });
  const form = h("form", { class: "action", id },
    h("h4", {}, title),
    hint ? h("p", { class: "muted small" }, hint) : null,
    fields,
    h("button", { type: "submit", class: id === "action-cancel" ? "danger" : "primary" }, title),
    result,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    // A person is who the token says: no actor.id, only the unit they act for. A key names its operator.
    const unitSelect = document.getElementById("actor-unit");
    const actorInput = document.getElementById("actor-id");
    const actor = ctx.person ? null : actorInput ? actorInput.value.trim() : "";
    if (!ctx.person && !actor) {
      clear(result, h("div", { class: "problem", role: "alert" }, h("strong", {}, "请先填写操作人（值班员姓名或工号）。")));
      if (actorInput) actorInput.focus();
      return;
    }
    if (actor) sessionStorage.setItem(ACTOR_KEY, actor);
    let body;
    try {
      body = build(data);
    } catch (err) {
      clear(result, h("div", { class: "problem", role: "alert" }, h("strong", {}, err.message)));
      return;
    }
    body.actor = ctx.person
      ? { unit: (unitSelect && unitSelect.value) || ctx.actorUnit || undefined }
      : { id: actor, unit: ctx.actorUnit || undefined };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    clear(result, h("p", { class: "muted" }, "正在提交…"));
    try {
      const receipt = await api(`/v1/cases/${caseId}/actions`, {
        method: "POST",
        body,
        headers: { "Idempotency-Key": newKey() },
      });
      const accepted = () =>
        h("p", { class: "accepted", role: "status", dataset: { action: receipt.action } },
          `已受理（202）：${label(ACTIONS, receipt.action)}，操作编号 ${receipt.action_id.slice(0, 8)}…，正在等待派遣系统处理。`,
        );
      clear(result, accepted());
      form.reset();
      onDone(receipt, result, actor, accepted);
    } catch (err) {
      clear(result, problemBox(err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The roles this viewer may act in on the case: a person's acting units, a key's scopes. */
function actingRoles(ctx, acting, canAct, supervise) {
  if (ctx.person) return [...new Set(acting.map((o) => o.role))];
  return [supervise && "supervisor", canAct && "assignee", canAct && "assisting"].filter(Boolean);
}

export async function renderCase(main, ctx, caseId) {
  const [catalog] = await Promise.all([matters(), units()]);
  let c;
  try {
    c = await api(`/v1/cases/${caseId}`);
  } catch (err) {
    clear(main, h("section", { class: "page" }, h("p", {}, h("a", { href: "#/cases" }, "← 返回案件列表")), problemBox(err)));
    return () => {};
  }
  let disposed = false;
  let pending = 0; // actions posted here and not yet seen applied: their outcome re-renders the page

  const rerender = async (notice) => {
    if (disposed) return;
    const holder = main.querySelector("#case-notice");
    const scrollY = window.scrollY;
    stop();
    const next = await renderCase(main, ctx, caseId);
    stop = next;
    if (notice) {
      const fresh = main.querySelector("#case-notice");
      if (fresh) clear(fresh, notice);
    } else if (holder && holder.childNodes.length) {
      const fresh = main.querySelector("#case-notice");
      if (fresh) clear(fresh, ...holder.childNodes);
    }
    window.scrollTo(0, scrollY);
  };

  // After a 202: watch the case until dispatch has applied the action (its history grows), then show it.
  const personId = ctx.person ? ctx.person.id : null;
  const byUs = (a, actor) =>
    Boolean(a) && (personId ? a.id === personId || a.person_id === personId || a.id === `person:${personId}` : a.id === actor);
  const awaitApplied = (receipt, result, actor, accepted) => {
    const before = (c.history || []).length;
    const stateBefore = c.state;
    const started = Date.now();
    const poll = async () => {
      if (disposed) return;
      let fresh;
      try {
        fresh = await api(`/v1/cases/${caseId}`);
      } catch (err) {
        clear(result, problemBox(err));
        return;
      }
      // Our step: a new history entry by this person (others may act on the case meanwhile).
      const ours = (fresh.history || []).slice(before).filter((e) => byUs(e.actor, actor));
      const rejected = ours.find((e) => e.action === "rejected");
      if (rejected) {
        pending -= 1;
        const why = refusalText(rejected.detail || {});
        await rerender([
          accepted(),
          h("div", { class: "problem", role: "alert", dataset: { action: receipt.action } },
            h("strong", {}, `派遣系统拒绝了此操作（${label(ACTIONS, receipt.action)}），案件状态仍为“${label(STATES, fresh.state)}”。`),
            why ? h("div", { class: "problem-detail" }, `原因：${why}`) : null,
          ),
        ]);
      } else if (ours.length) {
        pending -= 1;
        const last = ours[ours.length - 1];
        await rerender([
          accepted(),
          h("p", { class: "applied", role: "status", dataset: { action: receipt.action } },
            `操作已生效：${label(ACTIONS, last.action)}；案件状态 ${label(STATES, stateBefore)} → ${label(STATES, fresh.state)}。`,
          ),
        ]);
      } else if (Date.now() - started < 30000) {
        setTimeout(poll, 1000);
      } else {
        pending -= 1;
        clear(result, h("p", { class: "notice" }, "已受理，但 30 秒内未见处理结果：派遣系统可能繁忙，请稍后刷新查看。"));
      }
    };
    pending += 1;
    setTimeout(poll, 700);
  };

  const place = c.assignment && c.assignment.place ? unitByCode(c.assignment.place) : null;
  const placeText = c.assignment && c.assignment.place ? `${place ? place.name : ""} ${c.assignment.place}`.trim() : null;
  const loc = c.location || {};
  const locationText = [loc.address, loc.lon != null ? `${loc.lon}, ${loc.lat}` : null, loc.grid_code ? `网格码 ${loc.grid_code}` : null]
    .filter(Boolean).join(" · ");
  const reporter = c.reporter ? [c.reporter.name, c.reporter.phone].filter(Boolean).join(" ") : null;
  const names = c.names || {};
  const nameOf = (p) => names[p] || partyName(p, ctx.departments || []);
  const dues = deadlineGroups(c.state === "received" ? [] : deadlineRows(c));
  const rows = dues.shown;
  const deliveries = h("div", {}, h("p", { class: "muted" }, "正在加载…"));
  const supervise = ctx.me.scopes.includes("supervise");
  const canAct = supervise || ctx.me.scopes.includes("act");
  const unitOptions = (await units()).filter((u) => ctx.canSee(u.code) || u.level === "district");
  const depts = ctx.departments || [];

  const deptChoices = depts.length
    ? h("fieldset", { class: "checks" }, h("legend", {}, "部门"),
        depts.map((d) => h("label", {}, h("input", { type: "checkbox", name: "departments", value: d.code }), d.name)))
    : h("label", {}, "部门编码（逗号分隔）", h("input", { name: "departments_text", placeholder: "如 city_management, market_supervision" }));

  const acting = ctx.person ? actingUnits(ctx, c) : [];
  const party = acting.some((o) => o.role !== "supervisor");
  const own = ctx.person && party && canAct ? [
    AWAITING_ACCEPT.includes(c.state) && actionForm({
      id: "action-accept", title: "签收", ctx, caseId, onDone: awaitApplied,
      hint: "签收后开始计算办结时限。", fields: [], build: () => ({ action: "accept" }),
    }),
    ["accepted", "reopened"].includes(c.state) && actionForm({
      id: "action-start", title: "开始处置", ctx, caseId, onDone: awaitApplied, fields: [],
      build: () => ({ action: "start" }),
    }),
    ["accepted", "in_progress", "reopened"].includes(c.state) && actionForm({
      id: "action-resolve", title: "办结", ctx, caseId, onDone: awaitApplied,
      fields: h("label", {}, "处置结果", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      build: (data) => ({ action: "resolve", text: String(data.get("text")).trim() }),
    }),
  ].filter(Boolean) : [];

  // 认领: a person of a party's very unit becomes responsible for its part (派单到人; dispatch checks who).
  const responsible = c.responsible || {};
  const personOfPart = (party) => (party === (c.assignment || {}).lead ? responsible.lead : (responsible.parts || {})[party]);
  const claimable = ctx.person && canAct && ["assigned", "accepted", "in_progress", "reopened"].includes(c.state)
    && acting.some((o) => o.role !== "supervisor" && ctx.me.units.includes(o.unit) && personOfPart(o.unit) !== ctx.person.id);
  const claim = claimable && actionForm({
    id: "action-claim", title: "认领", ctx, caseId, onDone: awaitApplied, fields: [],
    hint: "成为所选代表单位这部分的责任人（本案将进入您的待办）。", build: () => ({ action: "claim" }),
  });

  const isLead = ctx.person ? acting.some((o) => o.role === "assignee") : (c.assignment || {}).lead === ctx.actorUnit;
  const supervision = supervisionPanel({ c, ctx, caseId, form: actionForm, onDone: awaitApplied, depts, isLead });
  const clock = clockPanel({ c, ctx, caseId, form: actionForm, onDone: awaitApplied, isLead });
  const forms = c.state === "received" ? [] : [
    ...own,
    claim,
    actionForm({
      id: "action-comment", title: "评论", ctx, caseId, onDone: awaitApplied,
      fields: h("label", {}, "内容", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      build: (data) => ({ action: "comment", text: String(data.get("text")).trim() }),
    }),
    ...supervision.forms,
    ...clock.forms,
    supervise && actionForm({
      id: "action-redispatch", title: "重新派遣", ctx, caseId, onDone: awaitApplied,
      hint: "指挥中心人工改派：搜索或按层级、部门选择新的主办单位，并说明原因。",
      fields: [
        unitPicker(unitOptions.filter((u) => u.level !== "district" || ctx.sees_all), depts),
        h("label", {}, "或输入单位编码", h("input", { name: "unit_text", placeholder: "unit:610199004001 或 department:gas" })),
        h("label", {}, "原因", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
      ],
      build: (data) => {
        const unit = String(data.get("unit_text") || "").trim() || String(data.get("unit") || "");
        if (!unit) throw new Error("请选择或输入要派往的单位。");
        return { action: "redispatch", unit, text: String(data.get("text")).trim() };
      },
    }),
    supervise && actionForm({
      id: "action-summon", title: "召集部门", ctx, caseId, onDone: awaitApplied,
      hint: "街道吹哨、部门报到：被召集的部门须在报到时限内报到；区可代表案件所在街道吹哨。",
      fields: [deptChoices, h("label", {}, "说明", h("textarea", { name: "text", maxlength: "2000", rows: "2" }))],
      build: (data) => {
        const chosen = data.getAll("departments").map(String);
        const typed = String(data.get("departments_text") || "").split(/[,，\s]+/).filter(Boolean);
        const departments = [...chosen, ...typed];
        if (!departments.length) throw new Error("请至少选择一个部门。");
        const text = String(data.get("text") || "").trim();
        return { action: "summon", departments, ...(text ? { text } : {}) };
      },
    }),
    supervise && actionForm({
      id: "action-cancel", title: "作废", ctx, caseId, onDone: awaitApplied,
      hint: "重复、无效或误报的案件作废后不再处理。",
      fields: [
        h("label", {}, "原因", h("textarea", { name: "text", required: true, maxlength: "2000", rows: "2" })),
        h("label", { class: "confirm" }, h("input", { type: "checkbox", name: "confirm", required: true }), "确认作废此案件（作废后不再处理）"),
      ],
      build: (data) => ({ action: "cancel", text: String(data.get("text")).trim() }),
    }),
  ].filter(Boolean).filter(offeredTo(c, actingRoles(ctx, acting, canAct, supervise)));

  clear(main,
    h("section", { class: "page case-page", dataset: { caseId: c.case_id, state: c.state } },
      h("p", {}, h("a", { href: "#/cases" }, "← 返回案件列表")),
      h("div", { class: "case-head" },
        h("h2", {}, `${c.case_number} ${c.title || ""}`),
        h("span", { class: `state state-${c.state}`, id: "case-state" }, label(STATES, c.state)),
        c.state !== "received" ? warningBadge(caseWarning(c)) : null,
      ),
      h("div", { id: "case-notice" }),
      h("div", { class: "case-grid" },
        h("div", { class: "case-main" },
          section("概要",
            dl([
              ["事项", matterName(catalog, c.matter_code)],
              ["描述", c.description],
              ["层级", c.level ? label(LEVELS, c.level) : null],
              ["紧急程度", c.urgency ? label(URGENCY, c.urgency) : null],
              ["来源", `${label(SOURCES, c.source)}${c.source_ref ? `（${c.source_ref}）` : ""}`],
              ["位置", locationText],
              ["所在网格", placeText],
              ["上报人", reporter],
              ["影响户数", c.households_affected || null],
              ["受理时间", fmtTime(c.received_at)],
              ["重复件", c.duplicates ? `${c.duplicates} 件已合并到本案` : null],
              ["合并到", c.merged_into ? h("a", { href: `#/cases/${c.merged_into}` }, c.merged_into) : null],
            ], true),
            c.state === "received" ? h("p", { class: "notice" }, "已受理，正在派遣中……") : null,
          ),
          c.assignment ? section("派遣",
            dl([
              ["主办", nameOf(c.assignment.lead)],
              ["协办", (c.assignment.assisting || []).map(nameOf).join("、") || "无"],
              ["责任人", responsibleText(c.responsible, ctx.person)],
            ]),
          ) : null,
          rows.length ? section("时限",
            h("table", { class: "deadlines", id: "deadlines" },
              h("thead", {}, h("tr", {}, ["时限", "责任单位", "截止（当地时间）", "状态", "剩余", "预警"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {},
                rows.map((r) =>
                  h("tr", { dataset: { warning: r.warning } },
                    h("td", {}, r.name),
                    h("td", {}, r.party ? nameOf(r.party) : "—"),
                    h("td", {}, fmtTime(r.due)),
                    h("td", {}, label(DEADLINE_STATUS, r.status)),
                    h("td", {}, r.warning === "none" ? "—" : fmtRemaining(r.due)),
                    h("td", {}, warningBadge(r.warning)),
                  ),
                ),
              ),
            ),
            dues.summary ? h("p", { class: "muted small", id: "deadlines-void" }, dues.summary) : null,
            h("p", { class: "muted small" }, "蓝牌：正常；黄牌：进入预警期；红牌：已超时。"),
          ) : null,
          c.state !== "received" ? half(supervision.section) : null,
          c.state !== "received" ? half(clock.section) : null,
          c.routing ? section("派遣依据（规则轨迹）",
            dl([
              ["定位方式", c.routing.decision && label(LOCATED_BY, c.routing.decision.located_by)],
              ["区划版本", c.routing.registry_version || "—"],
            ], true),
            h("ol", { class: "trace columns", id: "routing-trace" },
              traceLines(c.routing.trace, names).map((line) => h("li", { dataset: { rule: line.rule } }, line.text)),
            ),
          ) : null,
          c.history ? section("办理过程",
            h("ol", { class: "timeline", id: "timeline" },
              timelineLines(c.history).map(({ event: e, count, ...line }) =>
                h("li", { dataset: { action: e.action, count: String(count) } },
                  h("time", { datetime: e.at }, fmtTime(e.at)),
                  h("strong", {}, label(ACTIONS, e.action)),
                  count > 1 ? h("span", { class: "badge repeat" }, `×${count}`) : null,
                  e.to_state && e.to_state !== e.from_state ? h("span", { class: "muted" }, ` ${label(STATES, e.from_state)} → ${label(STATES, e.to_state)}`) : null,
                  h("div", { class: "small actor" }, actorText(e.actor, depts, names)),
                  noteText(line.last, names) ? h("div", { class: "note" }, noteText(line.last, names)) : null,
                  count > 1 ? h("div", { class: "muted small repeat-text" }, repeatText({ count, ...line })) : null,
                ),
              ),
            ),
          ) : null,
          section("通知送达", deliveries),
        ),
        h("aside", { class: "case-actions" },
          h("h3", {}, ctx.person ? "案件办理" : "指挥中心操作"),
          !canAct
            ? h("p", { class: "muted" }, ctx.person ? "您的角色只能查看，不能操作案件。" : "此密钥只能查看，不能操作案件。")
            : forms.length
              ? [ctx.person ? personActor(ctx, acting, depts) : actorField(), forms]
              : h("p", { class: "muted", id: "no-actions" }, "案件当前状态下没有可执行的操作。"),
        ),
      ),
    ),
  );
  if (c.state !== "received") loadDeliveries(caseId, deliveries);
  else setTimeout(() => rerender(), 1500); // dispatch is routing it: look again shortly

  let timer = null;
  const busy = () => {
    const actions = main.querySelector(".case-actions");
    if (!actions) return false;
    if (actions.contains(document.activeElement) && !["actor-id", "actor-unit"].includes(document.activeElement.id)) return true;
    return [...actions.querySelectorAll("textarea, input[name=unit_text]")].some((el) => el.value.trim());
  };
  let stop = onLiveEvent((event) => {
    if (!event.data || event.data.subject !== caseId) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (pending > 0) return;
      // An event this page already shows (the step it just applied, a deadline's bookkeeping): leave it be.
      let fresh = null;
      try {
        fresh = await api(`/v1/cases/${caseId}`);
      } catch {
        fresh = null;
      }
      if (disposed || pending > 0) return;
      const same = fresh && fresh.state === c.state && (fresh.history || []).length === (c.history || []).length
        && JSON.stringify(fresh.deadlines || null) === JSON.stringify(c.deadlines || null);
      if (same) return;
      if (!busy()) {
        rerender();
        return;
      }
      // Someone is typing an action: say the case changed rather than wipe what they wrote.
      const notice = main.querySelector("#case-notice");
      if (notice && !notice.querySelector(".stale")) {
        notice.append(h("p", { class: "notice stale", role: "status" }, "案件有新的变化。",
          h("button", { type: "button", onclick: () => rerender() }, "刷新")));
      }
    }, 800);
  });
  return () => {
    disposed = true;
    clearTimeout(timer);
    stop();
  };
}
