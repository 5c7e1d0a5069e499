// 案件列表: the cases the key may see, filtered, newest first, paged by cursor.

import { api, matterName, matters, partyName, problemBox, query, units } from "./api.js";
import { clear, debounce, fmtRemaining, fmtTime, h, startOfLocalDay } from "./dom.js";
import { AWAITING_ACCEPT, LEVELS, OPEN_STATES, SOURCES, STATES, WARNINGS, label } from "./labels.js";
import { onLiveEvent } from "./live.js";

const FILTERS = ["unit", "place", "level", "state", "matter", "overdue", "source", "from", "to"];
// The statistics' figures (GET /v1/stats) a list can be narrowed to: a figure's link opens its cases.
const FACTS = {
  received: "统计在内", accepted_in_time: "按时签收", resolved_in_time: "按时办结", overdue: "曾超期",
  escalated: "曾上报升级", returned: "曾退回", rated: "已评价", satisfied: "评价满意",
};

/** The case's warning colour: the API's, else red when overdue, blue while a deadline runs. */
export function caseWarning(c) {
  const d = c.deadlines || {};
  if (d.warning) return d.warning;
  if (d.overdue) return "red";
  if (["closed", "cancelled", "merged", "received"].includes(c.state)) return "none";
  return d.accept_by || d.resolve_by ? "blue" : "none";
}

export function warningBadge(colour, text) {
  const w = WARNINGS[colour] || WARNINGS.none;
  return h("span", { class: `badge badge-${colour || "none"}`, title: w.label }, text || w.short);
}

function optionList(pairs, selected, empty) {
  return [
    h("option", { value: "" }, empty),
    ...pairs.map(([value, text]) => h("option", { value, selected: value === selected }, text)),
  ];
}

function nextDeadline(c) {
  const d = c.deadlines || {};
  const notAccepted = AWAITING_ACCEPT.includes(c.state);
  const due = notAccepted ? d.accept_by : OPEN_STATES.includes(c.state) ? d.resolve_by : null;
  return due ? `${notAccepted ? "签收" : "办结"} ${fmtRemaining(due)}` : "";
}

export async function renderCases(main, ctx, params) {
  const [all, catalog] = await Promise.all([units(), matters()]);
  const visible = all.filter((u) => ctx.canSee(u.code) && u.level !== "district");
  const value = (name) => params.get(name) || "";
  const depth = { street: "", community: "　", grid: "　　" };

  const form = h("form", { class: "filters", id: "case-filters", "aria-label": "筛选条件" },
    h("label", {}, "单位",
      h("select", { name: "unit" },
        optionList(visible.map((u) => [`unit:${u.code}`, `${depth[u.level] || ""}${u.name}`]), value("unit"), "全部单位"),
        (ctx.departments || []).map((d) => h("option", { value: `department:${d.code}`, selected: value("unit") === `department:${d.code}` }, d.name)),
      ),
    ),
    h("label", {}, "发生地",
      h("select", { name: "place" },
        optionList(visible.map((u) => [`unit:${u.code}`, `${depth[u.level] || ""}${u.name}`]), value("place"), "不限"),
      ),
    ),
    h("label", {}, "层级",
      h("select", { name: "level" }, optionList(Object.entries(LEVELS).filter(([k]) => k !== "department"), value("level"), "全部层级")),
    ),
    h("label", {}, "状态",
      h("select", { name: "state" },
        optionList([["open", "在办（全部）"], ...Object.entries(STATES).filter(([k]) => k !== "received")], value("state"), "全部状态"),
      ),
    ),
    h("label", {}, "事项",
      h("select", { name: "matter" }, optionList(catalog.map((m) => [m.code, m.name]), value("matter"), "全部事项")),
    ),
    h("label", {}, "超期",
      h("select", { name: "overdue" }, optionList([["true", "仅超期"], ["false", "未超期"]], value("overdue"), "不限")),
    ),
    h("label", {}, "来源", h("select", { name: "source" }, optionList(Object.entries(SOURCES), value("source"), "全部来源"))),
    h("label", {}, "统计口径",
      h("select", { name: "fact" }, optionList(Object.entries(FACTS), params.get("fact") || "", "不限")),
    ),
    h("label", {}, "受理自", h("input", { type: "date", name: "from", value: value("from") })),
    h("label", {}, "至", h("input", { type: "date", name: "to", value: value("to") })),
    h("div", { class: "filter-buttons" },
      h("button", { type: "submit", class: "primary" }, "筛选"),
      h("button", { type: "button", onclick: () => (location.hash = "#/cases") }, "清除"),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const name of [...FILTERS, "fact"]) if (data.get(name)) next.set(name, data.get(name));
    location.hash = `#/cases${next.toString() ? `?${next}` : ""}`;
  });

  const body = h("tbody", {});
  const pager = h("div", { class: "pager" });
  const message = h("div", {});
  clear(main,
    h("section", { class: "page cases-page" },
      h("div", { class: "toolbar" }, h("h2", {}, "案件列表"), h("span", { class: "muted", id: "cases-updated" })),
      form,
      message,
      h("table", { class: "cases", id: "case-table" },
        h("thead", {},
          h("tr", {},
            ["案件编号", "标题", "事项", "状态", "层级", "主办单位", "来源", "受理时间", "时限"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        body,
      ),
      pager,
    ),
  );

  const cursors = [null]; // the cursor of each page seen, for 上一页
  let pageIndex = 0;

  const apiParams = (cursor) => {
    const stateValue = value("state");
    return {
      unit: value("unit"),
      place: value("place"),
      level: value("level"),
      state: stateValue === "open" ? OPEN_STATES : stateValue,
      matter: value("matter"),
      overdue: value("overdue"),
      source: value("source"),
      fact: params.getAll("fact"),
      from: value("from") ? startOfLocalDay(value("from")) : "",
      // "至" a day includes that day: up to the start of the next one.
      to: value("to") ? startOfLocalDay(nextDay(value("to"))) : "",
      cursor,
      limit: 25,
    };
  };

  const load = async () => {
    clear(message);
    let page;
    try {
      page = await api(`/v1/cases${query(apiParams(cursors[pageIndex]))}`);
    } catch (err) {
      clear(message, problemBox(err));
      clear(body);
      return;
    }
    if (page.next_cursor) cursors[pageIndex + 1] = page.next_cursor;
    clear(body,
      page.items.length === 0 ? h("tr", {}, h("td", { colspan: "9", class: "muted empty" }, "没有符合条件的案件。")) : null,
      page.items.map((c) =>
        h("tr", { dataset: { caseId: c.case_id }, class: c.deadlines && c.deadlines.overdue ? "overdue" : "" },
          h("td", {}, h("a", { href: `#/cases/${c.case_id}` }, c.case_number)),
          h("td", {}, c.title),
          h("td", {}, matterName(catalog, c.matter_code)),
          h("td", {}, h("span", { class: `state state-${c.state}` }, label(STATES, c.state))),
          h("td", {}, label(LEVELS, c.level)),
          h("td", {}, partyName(c.assignment && c.assignment.lead, ctx.departments)),
          h("td", {}, label(SOURCES, c.source)),
          h("td", {}, fmtTime(c.received_at)),
          h("td", {}, warningBadge(caseWarning(c)), " ", h("span", { class: "small" }, nextDeadline(c))),
        ),
      ),
    );
    clear(pager,
      h("button", { type: "button", disabled: pageIndex === 0, onclick: () => { pageIndex -= 1; load(); } }, "上一页"),
      h("span", {}, `第 ${pageIndex + 1} 页`),
      h("button", { type: "button", disabled: !page.next_cursor, onclick: () => { pageIndex += 1; load(); } }, "下一页"),
    );
    main.querySelector("#cases-updated").textContent = `更新于 ${fmtTime(new Date().toISOString())}`;
  };

  await load();
  // New and changed cases show up on the first page without a reload.
  const soon = debounce(() => pageIndex === 0 && load(), 800);
  return onLiveEvent(() => soon());
}

function nextDay(day) {
  const date = new Date(`${day}T12:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}
