// intake's API as the app calls it: the person's access token on every request, an expired one refreshed once,
// problems (application/problem+json) turned into Chinese a field worker can act on.

import { h } from "./dom.js";
import { ACTIONS, STATES, label } from "./labels.js";
import { bearer, refresh } from "./session.js";

export class ApiError extends Error {
  constructor(status, problem, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** Worth sending again later (the network, the broker, a busy server), not a refusal of what was sent. */
  get retriable() {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

let onUnauthenticated = () => {};

export function whenUnauthenticated(fn) {
  onUnauthenticated = fn;
}

/** JSON in and out (or `form`: a FormData, multipart). Throws ApiError. */
export async function api(path, { method = "GET", body, form, headers = {} } = {}) {
  const send = async () => {
    const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store" };
    const token = bearer();
    if (token) init.headers.Authorization = `Bearer ${token}`;
    if (form) init.body = form;
    else if (body !== undefined) {
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
  if (response.status === 401 && (await expired(response))) {
    if (await refresh().catch(() => null)) response = await send();
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({ status: response.status, detail: response.statusText }));
    const wait = Number(response.headers.get("Retry-After") || problem.retry_after);
    const error = new ApiError(response.status, problem, Number.isFinite(wait) && wait > 0 ? wait : null);
    if (response.status === 401) onUnauthenticated(error);
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

async function expired(response) {
  const problem = await response.clone().json().catch(() => ({}));
  return problemType(problem) === "token_expired" || problem.code === "token_expired";
}

export function problemType(problem) {
  return String((problem && (problem.code || problem.type)) || "").split("/").pop();
}

/** A refusal as one Chinese sentence. */
export function problemText(err) {
  if (!(err instanceof ApiError)) return `出错了：${(err && err.message) || err}`;
  const p = err.problem || {};
  switch (problemType(p)) {
    case "network":
      return "无法连接服务器（可能没有网络）。";
    case "unauthenticated":
    case "token_expired":
    case "token_revoked":
    case "token_invalid":
      return "登录已失效，请重新登录。";
    case "person_disabled":
      return "账号已停用，请联系管理员。";
    case "forbidden":
    case "forged_actor":
    case "unit_not_yours":
      return "您无权对此案件执行此操作（不是该案件的责任单位）。";
    case "not_found":
      return "未找到：该案件不存在，或不在您的可见范围内。";
    case "illegal_transition": {
      const allowed = (p.allowed || []).map((a) => label(ACTIONS, a)).join("、") || "无";
      return `案件当前为“${label(STATES, p.current_state)}”，不能执行此操作（可执行：${allowed}）。`;
    }
    case "idempotency_conflict":
      return "此条已用同一编号提交过不同的内容。";
    case "rate_limited":
      return "请求过于频繁，请稍后再试。";
    case "broker_unavailable":
    case "infrastructure_unavailable":
      return "服务器暂时无法受理，稍后会自动重试。";
    case "payload_too_large":
      return "内容过大（照片太大？）。";
    case "unsupported_media_type":
      return "文件类型不支持，请选择 JPEG、PNG 或 HEIC 照片。";
    default:
      if (err.status === 422 || err.status === 400) return `输入有误${p.field ? `（${p.field}）` : ""}：${p.detail || ""}`;
      return `请求失败（HTTP ${err.status}）：${p.detail || p.title || ""}`;
  }
}

export function problemBox(err) {
  return h("div", { class: "problem", role: "alert" }, problemText(err));
}

/** A picture the API serves (an attachment's thumbnail) as an object URL: <img> cannot send the token. */
export async function pictureUrl(path) {
  const token = bearer();
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new ApiError(response.status, { detail: response.statusText });
  return URL.createObjectURL(await response.blob());
}
