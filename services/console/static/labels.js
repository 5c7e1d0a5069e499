// Chinese names of the API's English values (glossary: /work/shared/GLOSSARY.md).

export const STATES = {
  received: "已受理（派遣中）",
  reported: "已上报",
  assigned: "已派遣（待签收）",
  accepted: "已签收",
  in_progress: "处置中",
  resolved: "已办结（待核查）",
  verified: "已核查（待评价）",
  rated: "已评价",
  closed: "已结案",
  returned: "已退单",
  escalated: "已上报升级",
  merged: "已合并",
  reopened: "重办中",
  cancelled: "已作废",
};

// The lifecycle's named sets (shared/domain/lifecycle.py; tests/unit/intake/test_console_vocabulary.py keeps
// these copies equal): not resolved yet, where the resolve-by is owed (UNRESOLVED); not accepted since it was
// routed, where the accept-by is owed (AWAITING_ACCEPT).
export const OPEN_STATES = ["reported", "assigned", "accepted", "in_progress", "returned", "escalated", "reopened"];
export const AWAITING_ACCEPT = ["reported", "assigned", "returned", "escalated"];

export const LEVELS = {
  district: "区",
  street: "街道",
  community: "社区",
  grid: "网格",
  micro_grid: "微网格",
  department: "部门",
};

export const SOURCES = {
  hotline: "12345 热线",
  grid_app: "网格员 App",
  camera: "视频监控",
  department: "部门系统",
  open311: "Open311",
  resident_app: "居民 App",
  other: "其他",
};

export const URGENCY = { low: "低", normal: "一般", high: "紧急", emergency: "特急" };

export const ACTIONS = {
  report: "上报",
  assign: "派遣",
  redispatch: "重新派遣",
  accept: "签收",
  return: "退单",
  start: "开始处置",
  progress: "进展",
  resolve: "办结",
  report_in: "报到",
  summon: "吹哨召集",
  verify: "核查",
  verify_passed: "核查通过",
  verify_failed: "核查未通过",
  rate: "评价",
  rate_satisfied: "满意",
  rate_unsatisfied: "不满意",
  reopen: "重办",
  escalate: "上报升级",
  merge: "合并",
  close: "结案",
  cancel: "作废",
  comment: "评论",
  rejected: "操作被拒绝",
  escalate_part: "报到超时上报",
  realert: "超时再次提醒",
  claim: "认领",
  hand_over: "转交",
  reassign: "改派经办人",
  urge: "催办",
  supervise: "列入督办",
  supervise_order: "督办单",
  reply_order: "督办回复",
  order_unanswered: "督办单逾期未回复",
  request_extension: "申请延期",
  decide_extension: "延期审批",
  request_suspension: "申请挂起",
  decide_suspension: "挂起审批",
  resume: "恢复计时",
  report_up: "上报",
  decide_report_up: "上报决定",
  report_up_climbed: "上报逾期未决，报上一级",
  report_up_realert: "上报逾期未决，再次提醒",
  convene: "发起会商",
  give_opinion: "会商意见",
  record_outcome: "会商结论",
  consultation_unanswered: "会商意见截止",
  deadline: "时限",
};

export const ROLES = {
  assignee: "主办",
  assisting: "协办",
  supervisor: "指挥中心",
  resident: "居民",
  invitee: "会商单位",
  system: "系统",
};

// A person's roles (shared/people/model.py RoleName; tests/unit/intake/test_console_vocabulary.py keeps them equal).
export const PERSON_ROLES = {
  grid_worker: "网格员",
  micro_grid_head: "微网格长",
  grid_head: "网格长",
  duty_officer: "值班员",
  department_handler: "部门承办人",
  department_head: "部门负责人",
  district_supervisor: "区级督办",
  administrator: "系统管理员",
};

export const WARNINGS = {
  blue: { label: "蓝牌 · 正常", short: "正常" },
  yellow: { label: "黄牌 · 预警", short: "预警" },
  red: { label: "红牌 · 超时", short: "超时" },
  none: { label: "无", short: "—" },
};

export const DEADLINES = {
  accept_by: "签收时限",
  resolve_by: "办结时限",
  verify_by: "核查时限",
  follow_up_by: "回访时限",
  report_in_by: "报到时限",
  accept: "签收时限",
  resolve: "办结时限",
  verify: "核查时限",
  follow_up: "回访时限",
  report_in: "报到时限",
  order_reply: "督办回复时限",
  resume: "挂起到期恢复",
  report_up_decision: "上报决定时限",
  consultation_opinion: "会商意见时限",
};

export const DELIVERY_STATUS = {
  pending: "待发送",
  delivered: "已送达",
  grouped: "已合并发送",
  suppressed: "已抑制（限流）",
  dead: "发送失败（死信）",
};

export const CHANNELS = { webhook: "Webhook", sms: "短信", email: "电子邮件", stream: "实时推送" };

export const SCOPES = {
  submit: "上报",
  read: "查看",
  act: "处置",
  supervise: "指挥督办",
  personal_data: "个人信息",
  admin: "管理",
};

export function label(table, value) {
  if (value === null || value === undefined || value === "") return "—";
  return table[value] ?? value;
}

export const EVENT_TYPES = {
  "cn.griddispatch.case.assigned.v1": "派单",
  "cn.griddispatch.case.changed.v1": "状态变更",
  "cn.griddispatch.deadline.fired.v1": "时限提醒",
  "cn.griddispatch.action.rejected.v1": "操作被拒绝",
};
