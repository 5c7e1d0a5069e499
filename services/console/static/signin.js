// 登录: a person signs in with a username or phone and a password, or through single sign-on (统一身份认证)
// when intake has it configured; system operators may still use an API key (a secondary, labelled option).

import { problemText } from "./api.js";
import { clear, h } from "./dom.js";
import { signInWithPassword, useKey } from "./session.js";

/** Seconds as 「3 分 20 秒」. */
export function waitText(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} 秒`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} 分 ${s % 60} 秒` : `${m} 分钟`;
  const hours = Math.floor(m / 60);
  return m % 60 ? `${hours} 小时 ${m % 60} 分` : `${hours} 小时`;
}

/** A failed sign-in (AuthError or ApiError) as the sentence the person reads. */
export function signInProblem(err) {
  const p = (err && err.problem) || {};
  const type = String(p.type || p.code || "").split("/").pop();
  const code = p.code || type;
  if (err && err.status === 0) return "无法连接服务器，请检查网络后重试。";
  if (code === "invalid_credentials" || type === "invalid_credentials") return "用户名（或手机号）或密码错误，请重新输入。";
  const wait = err.retryAfter || Number(p.retry_after) || null;
  if (code === "account_locked" || type === "account_locked" || err.status === 423) {
    return wait
      ? `登录失败次数过多，账号已暂时锁定，请 ${waitText(wait)}后再试。`
      : "登录失败次数过多，账号已暂时锁定，请稍后再试。";
  }
  if (err.status === 429) return `尝试过于频繁，请 ${wait ? waitText(wait) : "稍等片刻"}后再试。`;
  if (code === "person_disabled" || code === "account_disabled") return "账号已停用，请联系管理员。";
  if (err.status === 401) return "登录失败，请检查用户名和密码。";
  if (err.status === 404) return "服务器尚未开放账号登录，请联系管理员。";
  if (err.status >= 500) return "服务器暂时无法登录，请稍后重试。";
  return problemText(err);
}

const SSO_ERRORS = {
  access_denied: "统一身份认证已取消或被拒绝。",
  unknown_person: "统一身份认证成功，但本系统中没有您的账号或角色，请联系管理员。",
  account_disabled: "账号已停用，请联系管理员。",
};

function problemLine(text, detail) {
  return h("div", { class: "problem", role: "alert" }, h("strong", {}, text),
    detail ? h("div", { class: "problem-detail" }, `服务器原文：${detail}`) : null);
}

/**
 * The sign-in page in `main`. `methods` is config.json's `sign_in`; `onSignedIn()` continues into the console;
 * `error` is shown above the form (a failed single sign-on, an expired session, a refused key).
 */
export function renderSignIn(main, { methods = {}, error = null, onSignedIn }) {
  document.title = "登录 · 网格化管理指挥中心";
  const message = h("div", { id: "sign-in-message", "aria-live": "assertive" });
  if (error && error.sso) {
    clear(message, problemLine(SSO_ERRORS[error.sso] || "统一身份认证登录失败。", error.detail));
  } else if (error) {
    clear(message, problemLine(error.text || signInProblem(error), error.problem && error.problem.detail));
  }

  const login = h("input", {
    id: "login", name: "login", type: "text", autocomplete: "username", required: true, maxlength: "64",
    placeholder: "用户名或手机号", autocapitalize: "off", spellcheck: "false",
  });
  const password = h("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password", required: true,
    maxlength: "256", placeholder: "密码",
  });
  const submit = h("button", { type: "submit", class: "primary wide" }, "登录");
  const form = h("form", { class: "sign-in card", id: "sign-in" },
    h("h2", {}, "登录指挥中心"),
    h("label", { for: "login" }, "用户名或手机号", login),
    h("label", { for: "password" }, "密码", password),
    submit,
    message,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    clear(message, h("p", { class: "muted" }, "正在登录…"));
    try {
      await signInWithPassword(login.value.trim(), password.value);
      password.value = "";
      await onSignedIn();
    } catch (err) {
      password.value = "";
      clear(message, problemLine(signInProblem(err), err && err.problem && err.problem.detail));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });

  const sso = methods.oidc
    ? h("div", { class: "sso" },
        h("div", { class: "or muted small" }, "或"),
        h("a", { class: "button wide", id: "sso-sign-in", href: methods.oidc_login_url || "/v1/auth/oidc/login" },
          "统一身份认证登录"),
      )
    : null;

  const keyInput = h("input", {
    id: "api-key", name: "key", type: "password", autocomplete: "off", required: true, placeholder: "gdk_…",
    "aria-describedby": "key-help",
  });
  const keyMessage = h("div", { id: "key-message" });
  const keyForm = h("form", { id: "key-sign-in" },
    h("label", { for: "api-key" }, "API 密钥", keyInput),
    h("p", { id: "key-help", class: "muted small" },
      "供系统运维人员使用：管理员签发的 API 密钥（griddispatch clients create）。以密钥登录的操作不记个人姓名，只保存在本标签页中。"),
    h("button", { type: "submit" }, "以 API 密钥登录"),
    keyMessage,
  );
  keyForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    useKey(keyInput.value.trim());
    clear(keyMessage, h("p", { class: "muted" }, "正在验证…"));
    try {
      await onSignedIn();
    } catch (err) {
      useKey(null);
      clear(keyMessage, problemLine(problemText(err), err && err.problem && err.problem.detail));
    }
  });
  const keyOption = methods.api_key === false
    ? null
    : h("details", { class: "key-option", id: "key-option" },
        h("summary", {}, "使用 API 密钥（系统运维）"),
        keyForm,
      );

  clear(main,
    h("div", { class: "sign-in-page" },
      form,
      sso,
      keyOption,
      h("p", { class: "muted small" }, "登录信息只保存在本浏览器标签页中，关闭标签页或点击“退出”即清除。"),
    ),
  );
  login.focus();
}
