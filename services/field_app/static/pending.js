// 待发送: what is waiting on this phone (reports and actions), what is being sent, what was sent (with its case
// number) and what the server refused (with why, to send again or discard).

import { clear, fmtTime, h } from "./dom.js";
import { discard, flush, items, onOutboxChange, pausedBecause, retry, withoutPhotos } from "./outbox.js";

const STATUS = { pending: "待发送", sending: "发送中", sent: "已发送", failed: "未成功" };

function row(item) {
  const result = item.result || {};
  return h("li", { dataset: { status: item.status, key: item.id, kind: item.kind } },
    h("div", { class: "item-top" },
      h("span", { class: `badge ${item.status === "failed" ? "badge-red" : item.status === "sent" ? "badge-blue" : "badge-yellow"}` }, STATUS[item.status]),
      h("span", { class: "small muted" }, fmtTime(new Date(item.createdAt).toISOString())),
    ),
    h("strong", { class: "item-title" }, item.summary),
    item.place ? h("div", { class: "small" }, `网格：${item.place}`) : null,
    item.photos && item.photos.length ? h("div", { class: "small" }, `照片 ${item.photos.length} 张`) : null,
    item.status === "sent" && result.case_number
      ? h("div", { class: "case-number" }, `案件编号 ${result.case_number}`, result.replayed ? "（重复发送，已合并为同一条）" : "")
      : null,
    item.status === "sent" && result.case_id ? h("a", { href: `#/case/${result.case_id}` }, "查看案件") : null,
    item.status === "pending" && item.error ? h("div", { class: "small" }, `${item.error}${item.nextAt > Date.now() ? `；${fmtTime(new Date(item.nextAt).toISOString())} 自动重试` : ""}`) : null,
    item.status === "failed"
      ? [
          h("div", { class: "problem" }, item.error),
          h("div", { class: "row" },
            item.noPhotos ? h("button", { type: "button", onclick: () => withoutPhotos(item.id) }, "不带照片发送") : null,
            h("button", { type: "button", onclick: () => retry(item.id) }, "重新发送"),
            h("button", { type: "button", class: "danger", onclick: () => discard(item.id) }, "删除")),
        ]
      : null,
  );
}

export async function renderPending(main) {
  const list = h("ol", { class: "outbox", id: "outbox" });
  const state = h("div", { id: "outbox-state" });
  const sendNow = h("button", { type: "button", class: "primary wide", id: "send-now", onclick: () => flush() }, "立即发送");
  clear(main, h("section", {}, h("h2", {}, "待发送"), state, list, sendNow));
  const draw = async () => {
    const all = (await items()).reverse();
    const waiting = all.filter((x) => x.status === "pending" || x.status === "sending").length;
    const paused = pausedBecause();
    clear(state, h("p", { class: waiting ? "notice" : "muted", dataset: { waiting: String(waiting) } },
      waiting === 0 ? "没有待发送的内容。"
        : paused === "offline" || navigator.onLine === false ? `${waiting} 条保存在手机上，联网后自动发送。`
        : paused === "signed_out" ? `${waiting} 条待发送：请重新登录后自动发送。`
        : `${waiting} 条正在发送…`));
    clear(list, all.length ? all.map(row) : null);
    sendNow.hidden = waiting === 0;
  };
  await draw();
  const stop = onOutboxChange(() => draw());
  const net = () => draw();
  window.addEventListener("online", net);
  window.addEventListener("offline", net);
  return () => {
    stop();
    window.removeEventListener("online", net);
    window.removeEventListener("offline", net);
  };
}
