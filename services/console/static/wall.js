// 大屏 (#/wall): the command centre's wall, 1920x1080 to 3840x2160, live. Today's reports by channel, open and
// overdue per street, trends over days and months, where reports cluster, rankings by on-time rate and
// satisfaction, and a ticker of new escalations. Charts by Apache ECharts, vendored (vendor/echarts/, its
// licence beside it): nothing is fetched from a CDN. Everything scales with the screen's height.

import * as echarts from "./vendor/echarts/echarts.esm.min.js";
import { api, partyName, problemBox, query, units } from "./api.js";
import { clear, debounce, fmtTime, h, localDate, startOfLocalDay } from "./dom.js";
import { SOURCES, URGENCY, label } from "./labels.js";
import { onLiveEvent } from "./live.js";

const REFRESH_MS = 60_000; // besides every live event (debounced)
const INK = "#e8f1ff";
const MUTED = "#8fa8c8";
const PALETTE = ["#3ba0ff", "#36cbcb", "#4ecb73", "#fad337", "#f2637b", "#975fe5", "#ff9845", "#5ee6e6"];

/** Pixels for the wall's height: 1 at 1080 lines, 2 at 2160. */
function scale() {
  return Math.max(0.6, window.innerHeight / 1080);
}

function px(n) {
  return Math.round(n * scale());
}

function pct(rate) {
  return rate === null || rate === undefined ? "—" : `${(100 * rate).toFixed(1)}%`;
}

function kpi(id, title, value, tone = "") {
  return h("div", { class: `wall-kpi ${tone}`, id }, h("div", { class: "wall-kpi-title" }, title), h("div", { class: "wall-kpi-value" }, String(value)));
}

function panel(id, title, ...content) {
  return h("section", { class: "wall-panel", id, "aria-label": title }, h("h3", {}, title), ...content);
}

function axisText() {
  return { color: MUTED, fontSize: px(13) };
}

function baseOption() {
  return {
    color: PALETTE,
    textStyle: { color: INK, fontSize: px(13) },
    animationDuration: 600,
    grid: { left: px(48), right: px(16), top: px(36), bottom: px(28), containLabel: true },
    legend: { textStyle: { color: INK, fontSize: px(13) }, top: 0 },
    tooltip: { trigger: "axis", textStyle: { fontSize: px(13) } },
  };
}

function lineOption(rows, key) {
  return {
    ...baseOption(),
    xAxis: { type: "category", data: rows.map((r) => r[key].slice(key === "day" ? 5 : 0)), axisLabel: axisText() },
    yAxis: { type: "value", axisLabel: axisText(), splitLine: { lineStyle: { color: "#1e3a5c" } } },
    series: [
      { name: "受理", type: "line", smooth: true, data: rows.map((r) => r.received), areaStyle: { opacity: 0.15 } },
      { name: "办结", type: "line", smooth: true, data: rows.map((r) => r.resolved) },
    ],
  };
}

function sourcesOption(bySource) {
  const data = Object.entries(bySource).map(([k, v]) => ({ name: label(SOURCES, k), value: v }));
  return {
    ...baseOption(),
    tooltip: { trigger: "item", textStyle: { fontSize: px(13) } },
    legend: { orient: "vertical", right: 0, top: "middle", textStyle: { color: INK, fontSize: px(13) } },
    series: [{
      type: "pie", radius: ["45%", "72%"], center: ["38%", "52%"], data,
      label: { color: INK, fontSize: px(13), formatter: "{b} {c}" },
    }],
  };
}

function streetsOption(features) {
  const rows = [...features].sort((a, b) => b.properties.open - a.properties.open);
  return {
    ...baseOption(),
    grid: { ...baseOption().grid, left: px(8) },
    xAxis: { type: "value", axisLabel: axisText(), splitLine: { lineStyle: { color: "#1e3a5c" } } },
    yAxis: { type: "category", inverse: true, data: rows.map((f) => f.properties.name), axisLabel: { ...axisText(), color: INK } },
    series: [
      { name: "在办", type: "bar", data: rows.map((f) => f.properties.open), barMaxWidth: px(18) },
      { name: "超期", type: "bar", data: rows.map((f) => f.properties.overdue), barMaxWidth: px(18), itemStyle: { color: "#f2637b" } },
    ],
  };
}

function hotspotOption(cells) {
  const max = Math.max(1, ...cells.map((c) => c.count));
  return {
    tooltip: { trigger: "item", textStyle: { fontSize: px(13) } },
    geo: {
      map: "wall-area", roam: false, aspectScale: 0.82, layoutCenter: ["50%", "52%"], layoutSize: "96%",
      itemStyle: { areaColor: "#0f2a4a", borderColor: "#3ba0ff", borderWidth: 1 },
      label: { show: true, color: MUTED, fontSize: px(12) },
      emphasis: { itemStyle: { areaColor: "#173d6b" }, label: { color: INK } },
    },
    visualMap: {
      min: 1, max, calculable: false, orient: "horizontal", left: "center", bottom: 0, itemWidth: px(12),
      itemHeight: px(120), textStyle: { color: INK, fontSize: px(12) }, inRange: { color: ["#36cbcb", "#fad337", "#f2637b"] },
      text: ["多", "少"],
    },
    series: [{
      name: "报告数", type: "effectScatter", coordinateSystem: "geo",
      data: cells.map((c) => ({ value: [c.lon, c.lat, c.count] })),
      symbolSize: (v) => px(6 + 18 * Math.sqrt(v[2] / max)), rippleEffect: { scale: 2.5, brushType: "stroke" },
      encode: { value: 2 },
    }],
  };
}

function rankingTable(id, rows, names) {
  const ranked = rows
    .filter((r) => r.received > 0)
    .sort((a, b) => (b.resolved_in_time_rate ?? -1) - (a.resolved_in_time_rate ?? -1) || (b.satisfaction_rate ?? -1) - (a.satisfaction_rate ?? -1))
    .slice(0, 8);
  return h("table", { class: "wall-rank", id },
    h("thead", {}, h("tr", {}, ["名次", "单位", "按时办结率", "满意率", "受理"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {},
      ranked.length ? null : h("tr", {}, h("td", { colspan: "5", class: "muted" }, "本期暂无数据")),
      ranked.map((r, n) => h("tr", {},
        h("td", {}, String(n + 1)), h("td", {}, names(r)), h("td", {}, pct(r.resolved_in_time_rate)),
        h("td", {}, pct(r.satisfaction_rate)), h("td", {}, String(r.received)))),
    ),
  );
}

export async function renderWall(main, ctx) {
  document.body.classList.add("wall-mode");
  const all = await units();
  const root = ctx.wholeDistrict || ctx.sees_all ? ctx.config.district : ctx.areaCodes[0];
  const rootUnit = all.find((u) => u.code === root);
  const unit = root ? `unit:${root}` : "";
  const below = { district: "street", street: "community", community: "grid" }[rootUnit ? rootUnit.level : "district"] || "grid";
  const belowName = { street: "街道", community: "社区", grid: "网格" }[below];

  const clock = h("div", { class: "wall-clock", id: "wall-clock" });
  const kpis = h("div", { class: "wall-kpis", id: "wall-kpis" });
  const charts = {
    sources: h("div", { class: "wall-chart", id: "chart-sources" }),
    streets: h("div", { class: "wall-chart", id: "chart-streets" }),
    map: h("div", { class: "wall-chart wall-map", id: "chart-hotspots" }),
    days: h("div", { class: "wall-chart", id: "chart-days" }),
    months: h("div", { class: "wall-chart", id: "chart-months" }),
  };
  const ranks = { streets: h("div", {}), departments: h("div", {}) };
  const ticker = h("ol", { class: "wall-ticker", id: "wall-escalations", "aria-live": "polite" });
  const message = h("div", { class: "wall-message" });
  const title = `${rootUnit ? rootUnit.name : ""}网格化管理指挥大屏`;
  clear(main,
    h("div", { class: "wall", id: "wall" },
      h("header", { class: "wall-head" },
        h("a", { href: "#/map", class: "wall-exit", title: "返回控制台" }, "← 控制台"),
        h("h2", {}, title), clock),
      message,
      kpis,
      h("div", { class: "wall-grid" },
        h("div", { class: "wall-col" },
          panel("panel-sources", "今日受理渠道", charts.sources),
          panel("panel-streets", `各${belowName}在办与超期`, charts.streets),
        ),
        h("div", { class: "wall-col wall-centre" },
          panel("panel-hotspots", "近30天报告热点", charts.map),
          h("div", { class: "wall-pair" },
            panel("panel-days", "近30天受理与办结", charts.days),
            panel("panel-months", "近12个月受理与办结", charts.months),
          ),
        ),
        h("div", { class: "wall-col" },
          panel("panel-rank-streets", `${belowName}排名（近30天）`, ranks.streets),
          panel("panel-rank-departments", "部门排名（近30天）", ranks.departments),
          panel("panel-escalations", "最新升级", ticker),
        ),
      ),
    ),
  );
  const instances = Object.fromEntries(Object.entries(charts).map(([k, el]) => [k, echarts.init(el, null, { renderer: "canvas" })]));
  let mapRegistered = false;

  const tick = () => (clock.textContent = fmtTime(new Date().toISOString()));
  tick();
  const clockTimer = setInterval(tick, 15_000);

  const load = async () => {
    const since = startOfLocalDay(localDate(new Date(Date.now() - 29 * 86400000)));
    let board, map, byBelow, byDepartment;
    try {
      [board, map, byBelow, byDepartment] = await Promise.all([
        api(`/v1/dashboard${query({ unit })}`),
        api(`/v1/map${query({ unit, level: below === "grid" ? "grid" : below })}`),
        api(`/v1/stats${query({ unit, by: below, from: since })}`),
        api(`/v1/stats${query({ unit, by: "department", from: since })}`),
      ]);
    } catch (err) {
      clear(message, problemBox(err));
      return;
    }
    clear(message);
    clear(kpis,
      kpi("kpi-today", "今日受理", board.today.received),
      kpi("kpi-resolved", "今日办结", board.today.resolved),
      kpi("kpi-open", "在办案件", board.open.open),
      kpi("kpi-overdue", "超期案件", board.open.overdue, board.open.overdue ? "alert" : ""),
      kpi("kpi-escalated", "曾升级", board.open.escalated, board.open.escalated ? "warn" : ""),
      kpi("kpi-ontime", "本期按时办结率", pct(byBelow.totals && byBelow.totals.resolved_in_time_rate)),
      kpi("kpi-satisfaction", "本期满意率", pct(byBelow.totals && byBelow.totals.satisfaction_rate)),
    );
    instances.sources.setOption(sourcesOption(board.today.by_source), true);
    instances.streets.setOption(streetsOption(map.features), true);
    if (!mapRegistered) {
      echarts.registerMap("wall-area", { type: "FeatureCollection", features: map.features.filter((f) => f.geometry) });
      mapRegistered = true;
    }
    instances.map.setOption(hotspotOption(board.hotspots.cells), true);
    instances.days.setOption(lineOption(board.trend_days, "day"), true);
    instances.months.setOption(lineOption(board.trend_months, "month"), true);
    clear(ranks.streets, rankingTable("rank-streets", byBelow.rows, (r) => r.name || r.unit));
    clear(ranks.departments, rankingTable("rank-departments", byDepartment.rows, (r) => r.name || partyName(`department:${r.unit}`, ctx.departments)));
    clear(ticker,
      board.escalations.length ? null : h("li", { class: "muted" }, "近7天无升级"),
      board.escalations.map((e) => h("li", { dataset: { caseId: e.case_id } },
        h("time", { datetime: e.at }, fmtTime(e.at).slice(5)),
        h("a", { href: `#/cases/${e.case_id}` }, e.case_number),
        h("span", { class: "wall-ticker-title" }, e.title),
        h("span", { class: "muted" }, `${partyName(e.from, ctx.departments)} → ${partyName(e.to, ctx.departments)}`),
        e.urgency && e.urgency !== "normal" ? h("span", { class: "badge badge-red" }, URGENCY[e.urgency] || e.urgency) : null,
      )),
    );
    main.querySelector("#wall").dataset.loadedAt = board.generated_at;
  };

  const resize = debounce(() => Object.values(instances).forEach((c) => c.resize()), 200);
  window.addEventListener("resize", resize);
  await load();
  const soon = debounce(() => load(), 3000);
  const stopLive = onLiveEvent(() => soon());
  const timer = setInterval(load, REFRESH_MS);
  return () => {
    stopLive();
    clearInterval(timer);
    clearInterval(clockTimer);
    window.removeEventListener("resize", resize);
    Object.values(instances).forEach((c) => c.dispose());
    document.body.classList.remove("wall-mode");
  };
}
