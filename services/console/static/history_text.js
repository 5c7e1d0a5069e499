// The case's timeline and deadlines as people read them: each system note in plain Chinese (names, local times),
// repeated reminders folded into one line with a count, void deadlines folded into one summary line.
// Pure functions (no DOM, no fetch): tests/unit/console runs them under node.

import { fmtTime } from "./dom.js";
import { DEADLINES, label } from "./labels.js";
import { nameOf, plain } from "./trace_text.js";

// System entries that repeat while nothing changes: one line per (action, party, kind), with a count.
export const REPEATED = new Set(["realert", "order_unanswered", "report_up_realert"]);

const MISSED = /^(\w+) deadline (\S+) missed by (\S+)$/;
const PART_MISSED = /^report-in deadline (\S+) missed by (\S+)$/;
const CLOSE_REASONS = {
  "the resident is satisfied": "居民评价满意，结案",
  "the follow-up window passed without a rating": "回访期内居民未评价，自动结案",
};
const REFUSALS = {
  illegal_transition: "案件当前状态不允许此操作",
  routing_error: "派遣规则不允许此操作",
  unknown_assignee: "单位不在区划中",
  unknown_unit: "单位不在区划中",
  return_not_allowed: "该事项不允许此单位退单",
  not_lead: "只有主办单位可以申请",
  not_supervising: "只有督办层级（或更高层级）可以审批",
  not_in_unit: "您不属于该单位",
  not_responsible: "您不是此部分的责任人",
  not_unit_head: "只有单位负责人可以改派经办人",
  already_responsible: "已是此部分的责任人",
  person_required: "请指定经办人",
  extension_pending: "已有延期申请等待审批",
  extension_limit: "延期次数已达上限",
  extension_too_long: "申请延期的时间过长",
  resolve_by_not_later: "新的办结时限须晚于当前时限",
  bad_time: "时间格式不正确",
  nothing_to_decide: "没有待审批的申请",
  already_suspended: "案件已挂起，请先恢复计时",
  suspension_pending: "已有挂起申请等待审批",
  not_suspended: "案件未挂起",
  unknown_order: "没有该督办单（可能已回复或失效）",
  order_not_yours: "该督办单不是下发给本单位的",
  bad_reply_by: "回复期限不正确",
  report_up_pending: "已有上报等待决定",
  report_up_at_top: "已是最高层级，无法再上报",
  no_report_up: "没有待决定的上报",
  not_report_up_rung: "只有被上报的层级可以决定",
  bad_report_up_decision: "上报决定不正确",
  instruction_needed: "请填写处理意见",
  invalid_action: "操作内容不正确",
  consultation_open: "已有会商正在进行",
  no_consultation: "没有正在进行的会商",
  consultation_closed: "会商意见征询已截止",
  opinion_given: "已提交过会商意见",
  not_convener: "只有会商发起单位（或代其发起的区）可以记录会商结果",
  not_invited: "本单位未被邀请参加会商",
  convener_not_allowed: "只有案件所在的街道或社区（或代表街道的区）可以发起会商",
  invited_needed: "请至少邀请一个单位或部门",
  bad_opinions_by: "意见截止时间不正确",
};
// Known reasons of a refusal, more precise than its code's sentence.
const REFUSAL_REASONS = [
  [/summon needs at least one department that does not already owe/, "所选部门均已在办理本案（已被召集或协办），无需再次召集"],
  [/only a street or community/, "只有街道、社区（或区代表案件所在街道）可以召集部门"],
  [/may summon only to cases in its own area/, "只能召集本辖区内的案件"],
  [/lies in no street/, "案件不在任何街道辖区内，区无法代表街道召集"],
  [/a summons names at least one department/, "请至少选择一个部门"],
  [/^unknown department/, "所选部门不在区划中"],
  [/has already reported its part/, "已报到，无需再次报到"],
  [/^waiting for the parts of/, "仍有协办单位或被召集部门未报到，暂不能办结"],
  [/is not the lead of this case/, "不是本案的主办单位"],
  [/is not an assisting unit of this case/, "不是本案的协办单位"],
  [/a return needs a reason/, "退单须说明原因"],
  [/needs a text/, "请填写说明"],
];

/** Why an action was refused, in Chinese (the refusal's code, or a known reason). */
export function refusalText(detail = {}) {
  const reason = String(detail.reason || "");
  for (const [pattern, text] of REFUSAL_REASONS) if (pattern.test(reason)) return text;
  return REFUSALS[detail.code] || "操作未被接受";
}
const COLOURS = { yellow: "黄牌", red: "红牌" };

// Entries whose `reason` the switch below already renders (a system's English reason is never shown raw).
const REASONED = new Set(["escalate", "rejected", "realert", "escalate_part", "supervise", "supervise_order", "order_unanswered", "close", "resume"]);

const deadlineName = (kind) => label(DEADLINES, kind);
const names = (list, n, kind) => (list || []).map((x) => nameOf(x.includes(":") ? x : `${kind}:${x}`, n)).join("、");

/** A missed deadline's system reason ("accept deadline <iso> missed by unit:…") in Chinese; null if not one. */
export function missedText(reason, n = {}) {
  const part = String(reason || "").match(PART_MISSED);
  if (part) return `${nameOf(part[2], n)}未在报到时限（${fmtTime(part[1])}）前报到`;
  const m = String(reason || "").match(MISSED);
  if (m) return `${nameOf(m[3], n)}未在${deadlineName(m[1])}（${fmtTime(m[2])}）内完成`;
  return null;
}

// What a district did for a street (detail.on_behalf_of): a summons (吹哨) or a consultation's steps (会商).
const BEHALF_OF = { summon: "吹哨", convene: "发起会商", record_outcome: "记录会商结论" };

/** Who took a step, with the unit's name; a district acting for a street says so (区代街道). */
export function onBehalfText(event, n = {}) {
  const d = event.detail || {};
  if (!d.on_behalf_of) return null;
  return `${nameOf((event.actor || {}).unit, n)}代表${nameOf(d.on_behalf_of, n)}`;
}

/** The note of one timeline entry in Chinese: what a person wrote, or what the system did and why. */
export function noteText(event, n = {}) {
  const d = event.detail || {};
  const a = event.action;
  const parts = [];
  const said = d.text || (REASONED.has(a) ? null : d.reason);
  const reason = d.reason ? missedText(d.reason, n) : null;
  switch (a) {
    case "escalate":
      parts.push(reason ? `${reason}：上报升级` : d.reason && d.reason !== "asked to escalate" ? plain(d.reason, n) : "人工上报升级");
      if (d.to) parts.push(d.at_top ? `${nameOf(d.to, n)}已是最高层级` : `升级至${nameOf(d.to, n)}`);
      break;
    case "realert":
      parts.push(`${reason || `${nameOf(d.lead, n)}超时`}：已是区指挥中心，再次提醒`);
      if (d.next_due) parts.push(`新的${deadlineName(d.kind)}至 ${fmtTime(d.next_due)}`);
      break;
    case "escalate_part":
      parts.push(`${reason || `${nameOf(d.party, n)}未按时报到`}：由${nameOf(d.to, n)}承担其部分`);
      if (d.report_in_by) parts.push(`报到时限至 ${fmtTime(d.report_in_by)}`);
      break;
    case "supervise":
      parts.push(`${reason || `${nameOf(d.lead, n)}超时`}：${nameOf(d.supervisor, n)}列入督办（第 ${d.misses ?? 1} 次）`);
      if (d.next_due) parts.push(`新的${deadlineName(d.kind)}至 ${fmtTime(d.next_due)}`);
      break;
    case "supervise_order":
    case "order_unanswered":
      parts.push(`${COLOURS[d.colour] || ""}督办单：${nameOf(d.by, n)} → ${nameOf(d.to, n)}`);
      if (d.reply_by) parts.push(`${a === "order_unanswered" ? "未在" : "须在"} ${fmtTime(d.reply_by)} 前回复`);
      if (d.reason && a === "supervise_order") parts.push(missedText(d.reason, n) || plain(d.reason, n));
      break;
    case "convene":
      if (d.topic) parts.push(`会商议题：${plain(d.topic, n)}`);
      if (Array.isArray(d.invited) && d.invited.length) parts.push(`邀请：${names(d.invited, n, "unit")}`);
      if (d.opinions_by) parts.push(`意见截止 ${fmtTime(d.opinions_by)}`);
      break;
    case "record_outcome":
      if (d.outcome) parts.push(`会商结论：${plain(d.outcome, n)}`);
      break;
    case "close":
      parts.push(CLOSE_REASONS[d.reason] || plain(d.reason, n));
      break;
    case "rejected":
      parts.push(refusalText(d));
      break;
    case "resume":
      if (d.automatic) parts.push("挂起结束，恢复计时");
      break;
    case "link":
      parts.push(`重复上报 ${d.case_number || ""} 已合并到本案（共 ${d.duplicates ?? 1} 件）`);
      break;
    case "merge":
      parts.push(`合并到 ${d.into_case_number || d.into}${d.distance_m != null ? `（相距 ${d.distance_m} 米）` : ""}`);
      break;
    default:
      break;
  }
  if (said && a !== "close") parts.push(plain(said, n));
  if (d.reason_code) parts.unshift(`[${d.reason_code}]`);
  if (a === "assign" || a === "redispatch") {
    const lead = d.lead || d.to;
    if (lead) parts.push(`主办：${nameOf(lead, n)}`);
    if (Array.isArray(d.assisting) && d.assisting.length) parts.push(`协办：${names(d.assisting, n, "unit")}`);
  }
  if (d.unit && a !== "redispatch") parts.push(`派往：${nameOf(d.unit, n)}`);
  if (d.person && ["claim", "hand_over", "reassign"].includes(a)) parts.push(`责任人：${d.from || "无"} → ${d.person}`);
  if (Array.isArray(d.departments) && d.departments.length) parts.push(`召集：${names(d.departments, n, "department")}`);
  const behalf = onBehalfText(event, n);
  if (behalf) parts.push(`${behalf}${BEHALF_OF[a] || ""}`);
  if (d.score) parts.push(`评分：${d.score}`);
  return parts.filter(Boolean).join("；");
}

const repeatKey = (e) => {
  const d = e.detail || {};
  return [e.action, d.lead || d.to || d.party || "", d.kind || d.colour || ""].join("|");
};

/**
 * The timeline as lines: each entry once, except repeated reminders, folded into the first of their kind with
 * `count` and the time of the last one (`lastAt`).
 */
export function timelineLines(history) {
  const out = [];
  const folded = new Map();
  for (const e of history || []) {
    if (REPEATED.has(e.action)) {
      const key = repeatKey(e);
      const line = folded.get(key);
      if (line) {
        line.count += 1;
        line.lastAt = e.at;
        line.last = e;
        continue;
      }
      const fresh = { event: e, count: 1, lastAt: e.at, last: e };
      folded.set(key, fresh);
      out.push(fresh);
      continue;
    }
    out.push({ event: e, count: 1, lastAt: e.at, last: e });
  }
  return out;
}

/** How often and over what span a folded line happened: 「共 11 次，最近一次 2026-12-01 20:13」. */
export function repeatText(line) {
  if (line.count < 2) return "";
  return `共 ${line.count} 次，最近一次 ${fmtTime(line.lastAt)}`;
}

/** The deadlines to show row by row (running and met), and the void ones as one count by kind. */
export function deadlineGroups(rows) {
  const shown = [];
  const voided = [];
  for (const r of rows || []) (r.status === "void" ? voided : shown).push(r);
  const byKind = new Map();
  for (const r of voided) byKind.set(r.name, (byKind.get(r.name) || 0) + 1);
  const summary = voided.length
    ? `已失效的时限 ${voided.length} 条（${[...byKind].map(([k, c]) => `${k} ${c}`).join("、")}）：案件改派、上报或办结后不再计时`
    : "";
  return { shown, voided, summary };
}

/** The notifications as one line: 「共 12 条：已送达 6、待发送 6」 (the table opens below it). */
export function deliverySummary(items, statusName = (s) => s) {
  const by = new Map();
  for (const x of items || []) by.set(x.status, (by.get(x.status) || 0) + 1);
  return `共 ${(items || []).length} 条：${[...by].map(([s, n]) => `${statusName(s)} ${n}`).join("、")}（点击展开）`;
}
