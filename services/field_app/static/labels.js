// Chinese names of the API's English values (glossary: GLOSSARY.md), the few the app shows.

export const STATES = {
  received: "已受理（派遣中）",
  reported: "已上报",
  assigned: "待签收",
  accepted: "已签收",
  in_progress: "处置中",
  resolved: "已办结（待核查）",
  verified: "已核查",
  rated: "已评价",
  closed: "已结案",
  returned: "已退单",
  escalated: "已上报升级",
  merged: "已合并",
  reopened: "重办",
  cancelled: "已作废",
};

export const ACTIONS = {
  report: "上报", assign: "派遣", redispatch: "重新派遣", accept: "签收", return: "退单", start: "开始处置",
  progress: "进展", resolve: "办结", report_in: "报到", summon: "吹哨召集", verify_passed: "核查通过",
  verify_failed: "核查未通过", rate_satisfied: "满意", rate_unsatisfied: "不满意", reopen: "重办",
  escalate: "上报升级", merge: "合并", close: "结案", cancel: "作废", comment: "评论", rejected: "操作被拒绝",
  claim: "认领", hand_over: "转交", reassign: "改派经办人", urge: "催办", supervise_order: "督办单",
  reply_order: "督办回复", report_up: "上报上级", decide_report_up: "上报审批", deadline: "时限",
  request_extension: "申请延期", decide_extension: "延期审批",
};

export const DEADLINES = {
  accept: "签收时限", resolve: "办结时限", verify: "核查时限", follow_up: "回访时限", report_in: "报到时限",
  order_reply: "督办回复时限", report_up_decision: "上报决定时限",
};

export const WARNINGS = {
  red: "红牌 · 超时",
  yellow: "黄牌 · 预警",
  blue: "蓝牌 · 正常",
  none: "—",
};

export const LEVELS = { district: "区", street: "街道", community: "社区", grid: "网格", micro_grid: "微网格" };

export const ROLES = {
  grid_worker: "网格员", micro_grid_head: "微网格长", grid_head: "网格长", duty_officer: "值班员",
  department_handler: "部门承办人", department_head: "部门负责人", district_supervisor: "区级督办", administrator: "系统管理员",
};

// 退单原因: the reason codes a field worker gives when a case is not theirs (the text says the rest).
export const RETURN_REASONS = {
  not_our_jurisdiction: "不属于本单位职责",
  wrong_location: "位置不在本网格",
  needs_department: "需职能部门处理",
  duplicate: "重复件",
  not_found_on_site: "现场未发现问题",
  other: "其他原因",
};

export function label(table, value) {
  if (value === null || value === undefined || value === "") return "—";
  return table[value] ?? value;
}

export function badge(colour) {
  const c = ["red", "yellow", "blue"].includes(colour) ? colour : "none";
  return `badge badge-${c}`;
}
