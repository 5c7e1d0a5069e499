// The routing trace in plain Chinese: each rule step as a sentence with unit and department names and local times.
// Pure functions (no DOM, no fetch): the API's machine-readable trace goes in, text comes out (tests/unit/console).

import { fmtTime } from "./dom.js";
import { LEVELS, URGENCY, label } from "./labels.js";

/** How the case was placed (the decision's located_by). */
export const LOCATED_BY = {
  point: "坐标落点",
  grid_code: "App 上报的网格编码",
  address: "地址匹配楼栋",
  containing_area: "包含该点的最小区域",
  district: "未能定位（交区处理）",
};

const PARTY = /\b(unit|branch|department):([A-Za-z0-9_.\-]*[A-Za-z0-9_\-])/g;
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g;

/** A party (unit:…, branch:…, department:…, or a bare unit code) by its name; the code when no name is known. */
export function nameOf(party, names = {}) {
  if (!party) return "—";
  const key = party.includes(":") ? party : `unit:${party}`;
  return names[key] || party;
}

/** Free text with every party code given its name and every ISO time in the district's local time. */
export function plain(text, names = {}) {
  if (!text) return "";
  return String(text)
    .replace(ISO_TIME, (iso) => fmtTime(iso))
    .replace(PARTY, (whole) => nameOf(whole, names));
}

/** The party codes a text names, in order. */
export function partiesIn(text) {
  return [...String(text || "").matchAll(PARTY)].map((m) => m[0]);
}

const LEVEL_WORDS = /\b(micro_grid|grid|community|street|district)\b/;
const levelIn = (text) => {
  const m = String(text || "").match(LEVEL_WORDS);
  return m ? label(LEVELS, m[1]) : "";
};
const number = (text, re) => {
  const m = String(text || "").match(re);
  return m ? m[1] : "?";
};
/** "within 2 working day(s)" → 2 个工作日; "within 4 hour(s)" → 4 小时. */
function allowance(reason) {
  const m = String(reason || "").match(/within ([\d.]+) ([a-z ()]+?)(?:,|$)/);
  if (!m) return "";
  const unit = m[2].includes("working") ? "个工作日" : m[2].includes("hour") ? "小时" : m[2].includes("day") ? "天" : m[2];
  return `${m[1]} ${unit}`;
}
const COUNTED = { households: "影响户数", duplicates: "重复上报件数" };

// rule → (step, names, parties named in the reason, the step's detail) → sentence
const RULES = {
  "locate.point_in_polygon": (s, n, p, d) => `坐标位于微网格「${nameOf(d.unit, n)}」`,
  "locate.point_outside": () => "坐标不在任何微网格内",
  "locate.smallest_containing": (s, n, p, d) => `未能定位到微网格，取包含该点的最小区域「${nameOf(d.unit, n)}」`,
  "locate.district_fallback": (s, n, p, d) => `无法定位，案件交由「${nameOf(d.unit, n)}」处理`,
  "locate.grid_code": (s, n, p, d) => `App 上报的网格编码对应「${nameOf(d.unit, n)}」`,
  "locate.grid_code_unknown": () => "App 上报的网格编码在区划中不存在，改用其他方式定位",
  "locate.grid_code_disagrees": () => "App 上报的网格编码与坐标所在微网格不符，以坐标为准",
  "locate.address": (s, n, p, d) => `地址匹配到楼栋，位于微网格「${nameOf(d.unit, n)}」`,
  "locate.address_unknown": () => "地址未匹配到任何楼栋",
  "classify.given_code": (s) => `上报时已给出事项类型：${String(s.reason).split(": ").slice(1).join(": ") || (s.detail || {}).matter}`,
  "classify.unknown_code": () => "上报的事项编码不在事项清单中，改按描述文字识别",
  "classify.keywords": (s, n, p, d) => {
    const name = (String(s.reason).match(/^text matches \S+ (.+?) on /) || [])[1] || d.matter;
    return `按描述中的关键词（${(d.keywords || []).join("、")}）识别为「${name}」`;
  },
  "classify.keywords_below_min": () => "关键词匹配度不足，未能自动识别事项类型",
  "classify.triage": () => "无法确定事项类型，转人工分类",
  "level.base": (s, n, p, d) => `事项清单规定的办理层级：${label(LEVELS, d.level)}`,
  "level.triage_base": (s, n, p, d) => `未分类：在${label(LEVELS, d.level)}分拣`,
  "level.raise_urgency": (s) => `紧急程度为“${label(URGENCY, number(s.reason, /urgency (\w+)/))}”：提升一级`,
  "level.raise_safety_matter": () => "安全类事项：提升一级",
  "level.raise_safety_keywords": (s, n, p, d) => `描述中含安全关键词（${(d.keywords || []).join("、")}）：提升一级`,
  "level.cap": () => "提升后超过区级：以区级为限",
  "level.clamp_to_place": (s, n, p) => `案件只定位到${levelIn(s.reason)}「${nameOf(partyOrCode(s.reason, p), n)}」：在该层级办理`,
  "units.unknown_department": () => "牵头部门不在区划中：跳过",
  "units.skip_returned": (s, n, p) => `${nameOf(p[0], n)} 曾退回此案：跳过`,
  "units.all_returned": (s, n) => `所有候选单位均已退回此案：由区「${nameOf(number(s.reason, /district (\S+) decides/), n)}」决定`,
  "units.lead_branch": (s, n, p) => `由${nameOf(p[0], n)}（覆盖事发地的部门分支）主办`,
  "units.lead_department": (s, n, p) => `由${nameOf(p[0], n)}主办`,
  "units.triage_desk": (s, n, p) => `由${nameOf(p[0], n)}分拣`,
  "units.lead_territorial": (s, n, p) => `该事项无牵头部门：由属地${nameOf(p[0], n)}主办`,
  "units.lead_territorial_fallback": (s, n, p) => `事发地没有牵头部门的单位：由属地${nameOf(p[p.length - 1], n)}主办`,
  "units.assist_territorial": (s, n, p) => `${nameOf(p[0], n)}作为属地单位协办`,
  "units.assist_department": (s, n, p) => `${nameOf(p[0], n)}协办`,
  "units.big_matter_on_site": (s, n, p) => `重大事项：事发地${nameOf(p[0], n)}协办`,
  "units.safety_unplaced_department": (s, n, p) => `安全事项且未能定位到网格：由${nameOf(p[0], n)}立即主办`,
  "units.safety_unplaced_district": (s, n, p) => `安全事项且未能定位到网格：由区指挥中心${nameOf(p[0], n)}立即主办`,
  "units.unlocated_command_centre": (s, n, p) => `未定位到微网格：由${nameOf(p[0], n)}指挥中心核实位置`,
  "units.skip_unstaffed": (s, n, p, d) => `${nameOf(d.unstaffed, n)}无人值守：由上一级有人值守的${nameOf(d.instead, n)}承接`,
  "returns.arbitration": (s, n, p, d) => `已退回 ${d.returns ?? number(s.reason, /returned (\d+)/)} 次：由${nameOf(p[0], n)}裁定`,
  "deadline.accept": (s, n, p, d) => `签收时限：${allowance(s.reason)}内，至 ${fmtTime(d.at)}`,
  "deadline.resolve": (s, n, p, d) => `办结时限：${allowance(s.reason)}内，至 ${fmtTime(d.at)}`,
  "deadline.emergency_clock": () => "特急：按自然小时连续计时，不按工作日",
  "deadline.urgency": (s, n, p, d) => `紧急程度为“${label(URGENCY, number(s.reason, /urgency (\w+)/))}”：时限 × ${d.factor ?? "?"}`,
  "deadline.calendar_unknown": () => "计算日期超出已知的节假日年份：按周一至周五计工作日",
  "escalate.at_top": (s, n, p) => `${nameOf(p[0], n)}已是区指挥中心，无法再上报：再次提醒，不移交`,
  "escalate.unit": (s, n) => {
    const m = String(s.reason).match(/^\w+ (\S+) → \w+ (\S+)/) || [];
    return `逐级上报：${nameOf(m[1], n)} → ${nameOf(m[2], n)}`;
  },
  "escalate.branch": (s, n) => {
    const m = String(s.reason).match(/^branch (\S+) → its department (\S+)/) || [];
    return `逐级上报：${nameOf(`branch:${m[1]}`, n)} → ${nameOf(`department:${m[2]}`, n)}`;
  },
  "escalate.department": (s, n) => {
    const m = String(s.reason).match(/^department (\S+) → district command centre (\S+)/) || [];
    return `逐级上报：${nameOf(`department:${m[1]}`, n)} → 区指挥中心${nameOf(m[2], n)}`;
  },
  "escalate.realert": (s, n, p) => `${nameOf(p[0], n)}继续主办：再次提醒，下次时限 ${fmtTime((String(s.reason).match(ISO_TIME) || [])[0])}`,
  "summon.on_behalf": (s, n, p, d) => `${nameOf(d.district, n)}代表${nameOf(d.street, n)}吹哨`,
  "summon.call": (s, n, p, d) => `召集${nameOf(`department:${d.department || number(s.reason, /summons (\S+)/)}`, n)}（${nameOf(p[0], n)}）：须在 ${fmtTime((String(s.reason).match(ISO_TIME) || [])[0])} 前报到`,
  "summon.deadline": (s, n, p, d) => `紧急程度为“${label(URGENCY, number(s.reason, /urgency (\w+)/))}”：${d.hours ?? "?"} 小时内报到`,
  "summon.escalate": (s, n, p) => `${nameOf(p[0], n)}未按时报到：由${nameOf(p[1], n)}承担其部分，须在 ${fmtTime((String(s.reason).match(ISO_TIME) || [])[0])} 前报到`,
};

// A bare unit code in "the case is only known down to street 610199004": the party when the reason names one.
function partyOrCode(reason, parties) {
  if (parties.length) return parties[0];
  return number(reason, /(?:micro_grid|grid|community|street|district) (\S+?):?(?: |$)/);
}

/** One trace step as a Chinese sentence. Unknown rules: the reason with names and local times. */
export function traceText(step, names = {}) {
  const rule = step.rule || "";
  const d = step.detail || {};
  const parties = partiesIn(step.reason);
  const known = RULES[rule];
  if (known) return known(step, names, parties, d);
  const raised = rule.match(/^level\.raise_(\w+)$/);
  if (raised) {
    const rungs = number(step.reason, /(\d+) rung/);
    return `${COUNTED[raised[1]] || raised[1]} ${d.value ?? ""} 达到提级标准：提升 ${rungs} 级`;
  }
  return plain(step.reason, names);
}

/** The whole trace, one sentence a step (the rule's code kept for who reads the API). */
export function traceLines(trace, names = {}) {
  return (trace || []).map((step) => ({ rule: step.rule, text: traceText(step, names) }));
}
