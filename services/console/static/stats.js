// 统计报表: per unit and period (received, in time, overdue, escalated, returned, satisfaction) and the monthly CSV.

import * as echarts from "./vendor/echarts/echarts.esm.min.js";
import { api, ApiError, partyName, problemBox, query, units } from "./api.js";
import { clear, h, localDate, startOfLocalDay } from "./dom.js";
import { LEVELS, label } from "./labels.js";

const BY = { street: "按街道", community: "按社区", grid: "按网格", department: "按部门" };

function pct(part, whole) {
  if (!whole) return "—";
  return `${((100 * part) / whole).toFixed(1)}%`;
}

function ratio(given, part, whole) {
  return given === undefined ? pct(part, whole) : rate(given);
}

function rate(value) {
  if (value === null || value === undefined) return "—";
  return `${(100 * value).toFixed(1)}%`;
}

function monthRange(month) {
  const [y, m] = month.split("-").map(Number);
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return { from: startOfLocalDay(`${month}-01`), to: startOfLocalDay(`${next}-01`) };
}

/** The district's last 24 months, newest first (and the chosen one, should it be older). */
function recentMonths(chosen) {
  const [y, m] = localDate().slice(0, 7).split("-").map(Number);
  const months = [];
  for (let i = 0; i < 24; i++) {
    const total = y * 12 + (m - 1) - i;
    months.push(`${Math.floor(total / 12)}-${String((total % 12) + 1).padStart(2, "0")}`);
  }
  if (!months.includes(chosen)) months.push(chosen);
  return months;
}

function filenameOf(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const star = header.match(/filename\*=UTF-8''([^;]+)/i);
  if (star) return decodeURIComponent(star[1]);
  const plain = header.match(/filename="?([^";]+)"?/i);
  return plain ? plain[1] : fallback;
}

/** Received and overdue as bars, the on-time and satisfaction rates as lines, per row of the table. */
function statsChart(rows, rowName) {
  const percent = (v) => (v === null || v === undefined ? null : Math.round(1000 * v) / 10);
  return {
    color: ["#1f6fd1", "#c62828", "#2e7d32", "#f2b705"],
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 48, right: 48, top: 36, bottom: 60 },
    xAxis: { type: "category", data: rows.map(rowName), axisLabel: { interval: 0, rotate: rows.length > 8 ? 30 : 0 } },
    yAxis: [{ type: "value", name: "件" }, { type: "value", name: "%", max: 100 }],
    series: [
      { name: "受理量", type: "bar", data: rows.map((r) => r.received) },
      { name: "超期", type: "bar", data: rows.map((r) => r.overdue) },
      { name: "按时办结率", type: "line", yAxisIndex: 1, data: rows.map((r) => percent(r.resolved_in_time_rate)) },
      { name: "满意率", type: "line", yAxisIndex: 1, data: rows.map((r) => percent(r.satisfaction_rate)) },
    ],
  };
}

export async function renderStats(main, ctx, params) {
  const all = await units();
  const areaUnits = all.filter((u) => ctx.canSee(u.code) && ["district", "street", "community"].includes(u.level));
  const month = params.get("month") || localDate().slice(0, 7);
  const unit = params.get("unit") || (ctx.areaCodes[0] && !ctx.wholeDistrict ? `unit:${ctx.areaCodes[0]}` : "");
  const by = params.get("by") || (ctx.rootLevel === "district" ? "street" : ctx.rootLevel === "street" ? "community" : "grid");

  const form = h("form", { class: "filters", id: "stats-form", "aria-label": "统计条件" },
    h("label", {}, "单位",
      h("select", { name: "unit" },
        areaUnits.map((u) => h("option", { value: `unit:${u.code}`, selected: `unit:${u.code}` === unit }, `${u.name}（${label(LEVELS, u.level)}）`)),
      ),
    ),
    h("label", {}, "月份",
      h("select", { name: "month" },
        recentMonths(month).map((m) => h("option", { value: m, selected: m === month }, `${m.slice(0, 4)}年${Number(m.slice(5))}月`)),
      ),
    ),
    h("label", {}, "分组", h("select", { name: "by" }, Object.entries(BY).map(([k, v]) => h("option", { value: k, selected: k === by }, v)))),
    h("div", { class: "filter-buttons" },
      h("button", { type: "submit", class: "primary" }, "统计"),
      h("button", { type: "button", id: "download-csv" , onclick: () => download() }, "下载月报（CSV）"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    location.hash = `#/stats${query({ unit: data.get("unit"), month: data.get("month"), by: data.get("by") })}`;
  });
  const message = h("div", {});
  const table = h("div", { id: "stats-table" }, h("p", { class: "muted" }, "正在统计…"));
  clear(main,
    h("section", { class: "page stats-page" },
      h("div", { class: "toolbar" }, h("h2", {}, "统计报表")),
      form,
      message,
      table,
      h("p", { class: "muted small" },
        "受理量：期间内受理的案件；按时签收：在签收时限前签收；按时办结：在办结时限前办结；超期：任一时限超时；",
        "上报升级：至少升级一次；退回：至少退单一次；满意率：满意评价数 / 评价数。",
      ),
    ),
  );

  const download = async () => {
    clear(message);
    const data = new FormData(form);
    try {
      const response = await api(`/v1/stats/monthly.csv${query({ month: data.get("month"), unit: data.get("unit"), by: data.get("by") })}`, {
        raw: true,
        headers: { Accept: "text/csv" },
      });
      const blob = await response.blob();
      const link = h("a", {
        href: URL.createObjectURL(blob),
        download: filenameOf(response, `月报-${data.get("month")}.csv`),
        id: "csv-link",
      }, "下载");
      document.body.append(link);
      link.click();
      setTimeout(() => {
        URL.revokeObjectURL(link.href);
        link.remove();
      }, 1000);
    } catch (err) {
      clear(message, problemBox(err));
    }
  };

  const range = monthRange(month);
  let answer;
  try {
    answer = await api(`/v1/stats${query({ unit, from: range.from, to: range.to, by })}`);
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404 && err.problem.detail === "Not Found";
    clear(table, missing ? h("p", { class: "notice" }, "统计接口（/v1/stats）暂不可用。") : problemBox(err));
    return () => {};
  }
  // Each figure opens the cases behind it (GET /v1/cases?fact=, the statistics' own definitions), for the rows
  // that are places (a department's row counts the cases it leads: no list filter says that yet).
  const lastDay = new Date(Date.parse(`${range.to.slice(0, 10)}T12:00:00Z`) - 86400000).toISOString().slice(0, 10);
  const casesOf = (place, fact) => `#/cases${query({ place, from: `${month}-01`, to: lastDay, fact })}`;
  const linked = (fact, text) => (r, place) => (place ? h("a", { href: casesOf(place, fact), dataset: { fact } }, String(text(r))) : text(r));
  // [header, cell, sort key]: a header sorts the rows by its figure (a second click reverses).
  const columns = [
    ["受理量", linked("received", (r) => r.received), (r) => r.received],
    ["按时签收", linked("accepted_in_time", (r) => `${r.accepted_in_time}（${ratio(r.accepted_in_time_rate, r.accepted_in_time, r.received)}）`), (r) => r.accepted_in_time_rate ?? -1],
    ["按时办结", linked("resolved_in_time", (r) => `${r.resolved_in_time}（${ratio(r.resolved_in_time_rate, r.resolved_in_time, r.received)}）`), (r) => r.resolved_in_time_rate ?? -1],
    ["超期", linked("overdue", (r) => r.overdue), (r) => r.overdue],
    ["上报升级", linked("escalated", (r) => r.escalated), (r) => r.escalated],
    ["退回", linked("returned", (r) => r.returned), (r) => r.returned],
    ["评价数", linked("rated", (r) => r.rated), (r) => r.rated],
    ["满意数", linked("satisfied", (r) => r.satisfied), (r) => r.satisfied],
    ["满意率", (r) => rate(r.satisfaction_rate), (r) => r.satisfaction_rate ?? -1],
  ];
  const rowName = (r) => r.name || partyName(r.unit, ctx.departments);
  const placeOf = (r) => (by === "department" || !r.unit ? null : `unit:${r.unit.replace(/^unit:/, "")}`);
  let sortBy = null; // {n, dir}; null: the API's order (by code)
  const chartBox = h("div", { class: "stats-chart", id: "stats-chart", role: "img", "aria-label": "各单位受理量、超期与按时办结率、满意率图表" });
  const draw = () => {
    const rows = sortBy
      ? [...answer.rows].sort((a, b) => (columns[sortBy.n][2](a) - columns[sortBy.n][2](b)) * sortBy.dir)
      : answer.rows;
    const header = (t, n) =>
      h("th", { scope: "col", class: "num", "aria-sort": sortBy && sortBy.n === n ? (sortBy.dir > 0 ? "ascending" : "descending") : "none" },
        h("button", { type: "button", class: "sort", dataset: { column: String(n) },
          onclick: () => { sortBy = sortBy && sortBy.n === n ? { n, dir: -sortBy.dir } : { n, dir: -1 }; draw(); } }, t));
    clear(table,
      chartBox,
      h("table", { class: "stats" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "单位"), columns.map(([t], n) => header(t, n)))),
        h("tbody", {},
          rows.length === 0 ? h("tr", {}, h("td", { colspan: String(columns.length + 1), class: "muted empty" }, "本期无数据。")) : null,
          rows.map((r) => h("tr", {}, h("th", { scope: "row" }, rowName(r)), columns.map(([, f]) => h("td", { class: "num" }, f(r, placeOf(r)))))),
        ),
        answer.totals
          ? h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "合计"), columns.map(([, f]) => h("td", { class: "num" }, f(answer.totals, by === "department" ? null : unit)))))
          : null,
      ),
    );
    chart = chart || echarts.init(chartBox); // once it is in the page: a detached element has no size
    chart.setOption(statsChart(rows, rowName), true);
  };
  let chart = null;
  draw();
  const resize = () => chart && chart.resize();
  window.addEventListener("resize", resize);
  return () => {
    window.removeEventListener("resize", resize);
    if (chart) chart.dispose();
  };
}
