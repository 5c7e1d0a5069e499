// The intake API as the console calls it: the signed-in person's token (or a system's API key) on every
// request, an expired token refreshed once, problems turned into Chinese.

import { h } from "./dom.js";
import { ACTIONS, SCOPES, STATES, label } from "./labels.js";
import { bearer, isPerson, refresh } from "./session.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let onUnauthenticated = () => {};

export function whenUnauthenticated(fn) {
  onUnauthenticated = fn;
}

/** Call the API; JSON in and out. Throws ApiError with the problem+json body on a 4xx/5xx. */
export async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
  const send = async () => {
    const init = { method, headers: { Accept: "application/json", ...headers } };
    const token = bearer();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      return await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, { type: "network", detail: String(err) });
    }
  };
  let response = await send();
  // A person's access token ran out (a sleeping laptop misses the scheduled refresh): refresh, retry once.
  if (response.status === 401 && isPerson() && (await expired(response))) {
    if (await refresh().catch(() => null)) response = await send();
  }
  if (!response.ok) {
    let problem;
    try {
      problem = await response.json();
    } catch {
      problem = { status: response.status, detail: response.statusText };
    }
    const error = new ApiError(response.status, problem);
    if (response.status === 401 && path !== "/v1/me") onUnauthenticated(error);
    throw error;
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}

async function expired(response) {
  try {
    const problem = await response.clone().json();
    return problemType(problem) === "token_expired" || problem.code === "token_expired";
  } catch {
    return false;
  }
}

/** A query string from an object, skipping empty values; arrays repeat the parameter. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(name, v);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function problemType(problem) {
  return String(problem.type || "").split("/").pop();
}

/** A problem+json answer as a Chinese sentence a duty officer can act on. */
export function problemText(err) {
  if (!(err instanceof ApiError)) return `出错了：${err?.message || err}`;
  const p = err.problem || {};
  const field = p.field ? `（字段 ${p.field}）` : "";
  switch (problemType(p)) {
    case "network":
      return "无法连接服务器，请检查网络后重试。";
    case "unauthenticated":
      return isPerson() ? "登录已失效，请重新登录。" : "API 密钥无效、未知或已被吊销，请重新登录。";
    case "token_expired":
      return "登录已过期，请重新登录。";
    case "token_revoked":
    case "token_invalid":
    case "token_wrong_issuer":
      return "登录已失效（已退出或被管理员结束），请重新登录。";
    case "person_disabled":
      return "账号已停用，请联系管理员。";
    case "forbidden":
      return p.scope
        ? `${isPerson() ? "您的角色" : "此密钥"}没有“${label(SCOPES, p.scope)}”（${p.scope}）权限，不能执行此操作。`
        : `${isPerson() ? "您" : "此密钥"}无权执行此操作（不是该案件的相关方或缺少权限）。`;
    case "not_found":
      return "未找到：该案件或单位不存在，或不在本账号可见范围内。";
    case "illegal_transition": {
      const allowed = (p.allowed || []).map((a) => label(ACTIONS, a)).join("、") || "无";
      return `案件当前状态为“${label(STATES, p.current_state)}”，不允许此操作。当前可执行：${allowed}。`;
    }
    case "not_in_unit":
      return "您不是所选代表单位的人员，不能认领或接手这部分。";
    case "already_responsible":
      return "您已经是这部分的责任人。";
    case "not_responsible":
      return "只有责任人才能转交。";
    case "forged_actor":
      return "操作人必须是您本人。";
    case "unit_not_yours":
      return "您在所选代表单位没有角色。";
    case "idempotency_conflict":
      return "同一幂等键已用于另一操作，请刷新后重试。";
    case "invalid_input":
      return `输入有误${field}：${p.detail || ""}`;
    case "unknown_unit":
      return `输入有误${field}：登记库中没有该单位（${p.detail || ""}）。`;
    case "rate_limited":
      return `请求过于频繁，请 ${p.retry_after || "稍后"} 秒后重试。`;
    case "broker_unavailable":
    case "infrastructure_unavailable":
      return "消息服务暂不可用，操作未被受理，请稍后重试。";
    case "payload_too_large":
      return "提交内容过大。";
    default:
      if (err.status === 422) return `输入有误${field}：${p.detail || ""}`;
      return `请求失败（HTTP ${err.status}）${field}：${p.detail || p.title || ""}`;
  }
}

/** A problem box (role=alert) with the Chinese sentence and the server's own words beneath. */
export function problemBox(err) {
  const p = err instanceof ApiError ? err.problem : {};
  return h(
    "div",
    { class: "problem", role: "alert" },
    h("strong", {}, problemText(err)),
    p && p.detail ? h("div", { class: "problem-detail" }, `服务器原文：${p.detail}`) : null,
  );
}

// Registry names, loaded once per sign-in.
const cache = { units: null, unitsByCode: new Map(), matters: null, departments: null };

export function resetCache() {
  cache.units = null;
  cache.unitsByCode = new Map();
  cache.matters = null;
  cache.departments = null;
}

/** Every territorial unit down to grids, with boundaries (micro-grids are too fine for the map). */
export async function units() {
  if (!cache.units) {
    cache.units = (async () => {
      const levels = ["district", "street", "community", "grid"];
      const pages = await Promise.all(
        levels.map((level) => api(`/v1/units${query({ level, geometry: "true", limit: 5000 })}`)),
      );
      const all = pages.flatMap((p) => p.items);
      for (const unit of all) cache.unitsByCode.set(unit.code, unit);
      // Micro-grids by name only (no boundaries): where a case lies, and who leads a small matter.
      const micro = await api(`/v1/units${query({ level: "micro_grid", limit: 5000 })}`);
      for (const unit of micro.items) cache.unitsByCode.set(unit.code, unit);
      return all;
    })();
    cache.units.catch(() => (cache.units = null));
  }
  return cache.units;
}

export async function matters() {
  if (!cache.matters) {
    cache.matters = api("/v1/matter-types").then((r) => r.items);
    cache.matters.catch(() => (cache.matters = null));
  }
  return cache.matters;
}

export async function departments() {
  if (!cache.departments) {
    // Optional endpoint: without it, departments are shown by their codes.
    cache.departments = api("/v1/departments")
      .then((r) => r.items || [])
      .catch(() => []);
  }
  return cache.departments;
}

export function matterName(list, code) {
  if (!code) return "未分类（待分拣）";
  const m = (list || []).find((x) => x.code === code);
  return m ? m.name : code;
}

/** A party (unit:…, branch:…, department:…) by its Chinese name where the console knows it. */
export function partyName(party, depts = []) {
  if (!party) return "—";
  const [kind, code] = party.split(":");
  if (kind === "unit") {
    const unit = cache.unitsByCode.get(code);
    return unit ? unit.name : code;
  }
  for (const d of depts) {
    if (kind === "department" && d.code === code) return d.name;
    for (const b of d.branches || []) if (kind === "branch" && b.code === code) return b.name;
  }
  return party;
}

export function unitByCode(code) {
  return cache.unitsByCode.get(code);
}
