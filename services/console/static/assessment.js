// 考核排名: the ranking tables per street / community / grid / department / person for a month or quarter,
// sortable by any column; the CSV report and the printable page.

import { api, problemBox, query, units } from "./api.js";
import { clear, h, localDate } from "./dom.js";
import { LEVELS, label } from "./labels.js";

const BY = { street: "街道", community: "社区", grid: "网格", department: "部门", grid_worker: "网格员", person: "全部人员" };
const rate = (v) => (v === null || v === undefined ? "—" : `${(100 * v).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? "—" : String(v));
const COLUMNS = [
  ["排名", "rank", num],
  ["名称", "name", String],
  ["得分", "score", (v) => (v === null ? "—" : v.toFixed(2))],
  ["受理量", "received", num],
  ["按时签收率", "accepted_on_time_rate", rate],
  ["按时办结率", "resolved_on_time_rate", rate],
  ["超时", "overdue", num],
  ["上报", "escalated", num],
  ["退单", "returned", num],
  ["错误退单", "wrongly_returned", num],
  ["催办", "urged", num],
  ["满意率", "satisfaction_rate", rate],
  ["平均签收（时）", "avg_accept_hours", num],
  ["平均办结（时）", "avg_resolve_hours", num],
];

/** This month and the last 11, then the last 4 quarters, on the district's clock. */
function periods(chosen) {
  const [y, m] = localDate().slice(0, 7).split("-").map(Number);
  const list = [];
  for (let i = 0; i < 12; i++) {
    const t = y * 12 + (m - 1) - i;
    const month = `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, "0")}`;
    list.push([month, `${month.slice(0, 4)}年${Number(month.slice(5))}月`]);
  }
  for (let i = 0; i < 4; i++) {
    const q = y * 4 + Math.floor((m - 1) / 3) - i;
    const text = `${Math.floor(q / 4)}-Q${(q % 4) + 1}`;
    list.push([text, `${text.slice(0, 4)}年第${(q % 4) + 1}季度`]);
  }
  if (!list.some(([v]) => v === chosen)) list.push([chosen, chosen]);
  return list;
}

function compare(key, ascending) {
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1; // nothing to show: always last
    if (y === null || y === undefined) return -1;
    const order = typeof x === "string" ? x.localeCompare(y, "zh-CN") : x - y;
    return ascending ? order : -order;
  };
}

/** Fetch with the signed-in key, then save it (filename) or show it in a tab opened at the click (a blocker
 * would stop a tab opened after the wait). */
async function openBlob(path, type, filename) {
  const tab = filename ? null : window.open("", "_blank");
  try {
    const response = await api(path, { raw: true, headers: { Accept: type } });
    const url = URL.createObjectURL(await response.blob());
    if (tab) {
      tab.location.href = url;
    } else {
      const link = h("a", { href: url, download: filename });
      document.body.append(link);
      link.click();
      link.remove();
    }
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    if (tab) tab.close();
    throw err;
  }
}

export async function renderAssessment(main, ctx, params) {
  const all = await units();
  const areaUnits = all.filter((u) => ctx.canSee(u.code) && ["district", "street", "community"].includes(u.level));
  const period = params.get("period") || localDate().slice(0, 7);
  const unit = params.get("unit") || (ctx.areaCodes[0] && !ctx.wholeDistrict ? `unit:${ctx.areaCodes[0]}` : "");
  const level = params.get("level") || (ctx.rootLevel === "district" ? "street" : ctx.rootLevel === "street" ? "community" : "grid");
  // 网格员: the persons holding the grid_worker role
  const asked = level === "grid_worker" ? { period, unit, level: "person", role: "grid_worker" } : { period, unit, level };

  const form = h("form", { class: "filters", id: "assessment-form", "aria-label": "考核条件" },
    h("label", {}, "单位", h("select", { name: "unit" },
      areaUnits.map((u) => h("option", { value: `unit:${u.code}`, selected: `unit:${u.code}` === unit }, `${u.name}（${label(LEVELS, u.level)}）`)))),
    h("label", {}, "期间", h("select", { name: "period" },
      periods(period).map(([v, t]) => h("option", { value: v, selected: v === period }, t)))),
    h("label", {}, "排名对象", h("select", { name: "level" },
      Object.entries(BY).map(([k, v]) => h("option", { value: k, selected: k === level }, v)))),
    h("div", { class: "filter-buttons" },
      h("button", { type: "submit", class: "primary" }, "排名"),
      h("button", { type: "button", id: "assessment-csv", onclick: () => run(() => openBlob(`/v1/assessment.csv${query(asked)}`, "text/csv", `考核-${period}-${level}.csv`)) }, "下载报表（CSV）"),
      h("button", { type: "button", id: "assessment-print", onclick: () => run(() => openBlob(`/v1/assessment/report${query(asked)}`, "text/html")) }, "打印版"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    location.hash = `#/assessment${query({ unit: data.get("unit"), period: data.get("period"), level: data.get("level") })}`;
  });
  const message = h("div", {});
  const table = h("div", { id: "assessment-table" }, h("p", { class: "muted" }, "正在计算…"));
  const weightsNote = h("p", { class: "muted small", id: "assessment-weights" });
  clear(main, h("section", { class: "page assessment-page" },
    h("div", { class: "toolbar" }, h("h2", {}, "考核排名")), form, message, table, weightsNote,
    h("p", { class: "muted small" },
      "得分 = 100 ×（按时签收率、按时办结率、满意率的加权平均 − 超时率、上报率、错误退单率、催办率的加权和），0–100；",
      "受理量为 0 不排名；得分相同名次相同。点击表头排序。"),
  ));

  async function run(fn) {
    clear(message);
    try {
      await fn();
    } catch (err) {
      clear(message, problemBox(err));
    }
  }

  let answer;
  try {
    answer = await api(`/v1/assessment${query(asked)}`);
  } catch (err) {
    clear(table, problemBox(err));
    return () => {};
  }
  const w = answer.weights;
  weightsNote.textContent = `权重：按时签收 ${w.accepted_on_time}，按时办结 ${w.resolved_on_time}，满意 ${w.satisfaction}；` +
    `扣分：超时 ${w.overdue}，上报 ${w.escalated}，错误退单 ${w.wrongly_returned}，催办 ${w.urged}。`;

  let sortKey = "rank";
  let ascending = true;
  const draw = () => {
    const rows = [...answer.rows].sort(compare(sortKey, ascending));
    clear(table, h("table", { class: "stats assessment" },
      h("thead", {}, h("tr", {}, COLUMNS.map(([title, key]) => h("th", {
        scope: "col",
        class: key === "name" ? "" : "num",
        "aria-sort": key === sortKey ? (ascending ? "ascending" : "descending") : "none",
      }, h("button", {
        type: "button",
        class: "sort",
        "data-key": key,
        onclick: () => {
          ascending = key === sortKey ? !ascending : key === "rank" || key === "name";
          sortKey = key;
          draw();
        },
      }, title, key === sortKey ? (ascending ? " ▲" : " ▼") : ""))))),
      h("tbody", {},
        rows.length === 0 ? h("tr", {}, h("td", { colspan: String(COLUMNS.length), class: "muted empty" }, "本期无数据。")) : null,
        rows.map((r) => h("tr", { "data-code": r.code }, COLUMNS.map(([, key, f]) =>
          key === "name" ? h("th", { scope: "row" }, r.name || r.code) : h("td", { class: "num" }, f(r[key])))))),
    ));
  };
  draw();
  return () => {};
}
