// 登录: a person signs in with their username (or phone) and password (single sign-on hands over to the console's
// page, not to the app: the app offers the password only).

import { h, clear } from "./dom.js";
import { signIn } from "./session.js";

export function signInProblem(err) {
  const p = (err && err.problem) || {};
  const code = String(p.code || p.type || "").split("/").pop();
  if (err && err.status === 0) return "无法连接服务器，请检查网络后重试。";
  if (code === "invalid_credentials") return "用户名（或手机号）或密码错误，请重新输入。";
  if (code === "account_locked" || err.status === 423) return "登录失败次数过多，账号已暂时锁定，请稍后再试。";
  if (err.status === 429) return "尝试过于频繁，请稍后再试。";
  if (code === "person_disabled" || code === "account_disabled") return "账号已停用，请联系管理员。";
  return `登录失败（${err.status || ""}）：${p.detail || err.message || ""}`;
}

export function renderSignIn(main, { message, onSignedIn }) {
  const login = h("input", { id: "login", name: "login", autocomplete: "username", required: true, maxlength: "64", autocapitalize: "off", spellcheck: "false", placeholder: "用户名或手机号" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: "256", placeholder: "密码" });
  const submit = h("button", { type: "submit", class: "primary wide" }, "登录");
  const problem = h("div", { id: "sign-in-message", "aria-live": "assertive" }, message ? h("div", { class: "problem" }, message) : null);
  const form = h("form", { id: "sign-in", class: "card sign-in stack" },
    h("h2", {}, "网格员登录"),
    h("label", { for: "login" }, "用户名或手机号", login),
    h("label", { for: "password" }, "密码", password),
    submit,
    problem,
    h("p", { class: "small muted" }, "登录后本手机保持登录，离线时上报的内容联网后自动发送；在“我的”中可退出。"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    clear(problem, h("p", { class: "muted" }, "正在登录…"));
    try {
      await signIn(login.value.trim(), password.value);
      password.value = "";
      await onSignedIn();
    } catch (err) {
      password.value = "";
      clear(problem, h("div", { class: "problem", role: "alert" }, signInProblem(err)));
    } finally {
      submit.disabled = false;
    }
  });
  clear(main, form);
  login.focus();
}
