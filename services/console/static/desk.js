// 督办台 (GET /v1/supervision/desk): the open cases of the duty officer's area, the most overdue first, then by
// urgency and escalations; filter chips whose counts are the lists they open; columns sort the page shown.

import { api, matterName, matters, partyName, problemBox, query, units } from "./api.js";
import { warningBadge } from "./cases.js";
import { clear, debounce, fmtRemaining, fmtTime, h } from "./dom.js";
import { LEVELS, STATES, URGENCY, label } from "./labels.js";
import { onLiveEvent } from "./live.js";

export const DESK_FILTERS = {
  overdue: "当前超期",
  escalated: "曾升级",
  waiting_department: "待部门办理",
  summoned_pending: "部门未报到",
};
const PAGE = 50;
const URGENCY_ORDER = { emergency: 0, high: 1, normal: 2, low: 3 };

// Column: header, how a row sorts by it, what the cell shows.
const COLUMNS = [
  { title: "案件编号", key: (c) => c.case_number, cell: (c) => h("a", { href: `#/cases/${c.case_id}` }, c.case_number) },
  { title: "标题", key: (c) => c.title, cell: (c) => c.title },
  { title: "紧急程度", key: (c) => URGENCY_ORDER[c.urgency] ?? 9, cell: (c) => urgencyBadge(c.urgency) },
  { title: "状态", key: (c) => c.state, cell: (c) => h("span", { class: `state state-${c.state}` }, label(STATES, c.state)) },
  { title: "层级", key: (c) => c.level || "", cell: (c) => label(LEVELS, c.level) },
  { title: "牵头单位", key: (c) => c.lead || "", cell: (c, ctx) => partyName(c.lead, ctx.departments) },
  { title: "时限", key: (c) => -(c.overdue_s ?? -1e12), cell: (c) => dueCell(c) },
  { title: "升级次数", key: (c) => -c.escalations, cell: (c) => String(c.escalations) },
  { title: "督办单", key: (c) => -c.orders, cell: (c) => (c.orders ? String(c.orders) : "—") },
  {
    title: "待报到部门",
    key: (c) => -(c.summoned_pending || []).length,
    cell: (c, ctx) => (c.summoned_pending || []).map((p) => partyName(p, ctx.departments)).join("、") || "—",
  },
];

function urgencyBadge(urgency) {
  const colour = urgency === "emergency" ? "red" : urgency === "high" ? "yellow" : "none";
  return h("span", { class: `badge badge-${colour}` }, URGENCY[urgency] || urgency || "—");
}

function dueCell(c) {
  if (!c.due_at) return "—";
  const what = c.due_kind === "accept" ? "签收" : "办结";
  return [warningBadge(c.overdue ? "red" : "blue"), " ", h("span", { class: "small" }, `${what} ${fmtRemaining(c.due_at)}`),
    h("div", { class: "muted small" }, fmtTime(c.due_at))];
}

export async function renderDesk(main, ctx, params) {
  const [all, catalog] = await Promise.all([units(), matters()]);
  const visible = all.filter((u) => ctx.canSee(u.code) && u.level !== "district");
  const chosen = params.getAll("filter").filter((f) => f in DESK_FILTERS);
  const place = params.get("place") || "";
  const depth = { street: "", community: "　", grid: "　　" };
  const href = (filters, where = place) => {
    const next = new URLSearchParams();
    if (where) next.set("place", where);
    for (const f of filters) next.append("filter", f);
    return `#/desk${next.toString() ? `?${next}` : ""}`;
  };

  const chips = h("div", { class: "chips", id: "desk-filters", role: "group", "aria-label": "筛选" });
  const message = h("div", {});
  const head = h("tr", {});
  const body = h("tbody", {});
  const pager = h("div", { class: "pager" });
  const placeSelect = h("select", { name: "place", id: "desk-place", onchange: () => (location.hash = href(chosen, placeSelect.value)) },
    h("option", { value: "" }, "全部辖区"),
    visible.map((u) => h("option", { value: `unit:${u.code}`, selected: `unit:${u.code}` === place }, `${depth[u.level] || ""}${u.name}`)),
  );
  clear(main,
    h("section", { class: "page desk-page" },
      h("div", { class: "toolbar" }, h("h2", {}, "督办台"), h("span", { class: "muted", id: "desk-updated" })),
      h("p", { class: "muted small" }, "辖区内未办结的案件：超期最久的在前，其次按紧急程度、升级次数和下一个时限排序。点击列标题可按该列重新排序本页。"),
      h("div", { class: "filters" }, h("label", {}, "发生地", placeSelect)),
      chips,
      message,
      h("table", { class: "cases desk", id: "desk-table" }, h("thead", {}, head), body),
      pager,
    ),
  );

  let offset = 0;
  let sortBy = null; // null: the desk's own order
  let rows = [];

  const drawHead = () =>
    clear(head, COLUMNS.map((col, n) =>
      h("th", { scope: "col", "aria-sort": sortBy && sortBy.n === n ? (sortBy.dir > 0 ? "ascending" : "descending") : "none" },
        h("button", { type: "button", class: "sort", onclick: () => { sortBy = sortBy && sortBy.n === n ? { n, dir: -sortBy.dir } : { n, dir: 1 }; draw(); } }, col.title),
      ),
    ));

  const draw = () => {
    drawHead();
    const shown = sortBy ? [...rows].sort((a, b) => {
      const ka = COLUMNS[sortBy.n].key(a), kb = COLUMNS[sortBy.n].key(b);
      return (ka < kb ? -1 : ka > kb ? 1 : 0) * sortBy.dir;
    }) : rows;
    clear(body,
      shown.length === 0 ? h("tr", {}, h("td", { colspan: String(COLUMNS.length), class: "muted empty" }, "没有符合条件的案件。")) : null,
      shown.map((c) =>
        h("tr", { dataset: { caseId: c.case_id }, class: c.overdue ? "overdue" : "", title: matterName(catalog, c.matter_code) },
          COLUMNS.map((col) => h("td", {}, col.cell(c, ctx))),
        ),
      ),
    );
  };

  const load = async () => {
    clear(message);
    let found;
    try {
      found = await api(`/v1/supervision/desk${query({ place, filter: chosen, limit: PAGE, offset })}`);
    } catch (err) {
      clear(message, problemBox(err));
      clear(body);
      return;
    }
    rows = found.items;
    clear(chips,
      h("a", { href: href([]), class: "chip", "aria-current": chosen.length ? null : "true" }, `全部 ${found.counts.all}`),
      Object.entries(DESK_FILTERS).map(([name, text]) => {
        const on = chosen.includes(name);
        return h("a", {
          href: href(on ? chosen.filter((f) => f !== name) : [...chosen, name]),
          class: `chip${on ? " on" : ""}`, "aria-current": on ? "true" : null, dataset: { filter: name },  // a link: aria-pressed is not allowed on one
        }, `${text} ${found.counts[name]}`);
      }),
    );
    draw();
    const last = Math.min(offset + PAGE, found.total);
    clear(pager,
      h("button", { type: "button", disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, "上一页"),
      h("span", { id: "desk-range" }, found.total ? `第 ${offset + 1}–${last} 件，共 ${found.total} 件` : "共 0 件"),
      h("button", { type: "button", disabled: last >= found.total, onclick: () => { offset += PAGE; load(); } }, "下一页"),
    );
    main.querySelector("#desk-updated").textContent = `更新于 ${fmtTime(new Date().toISOString())}`;
  };

  await load();
  const soon = debounce(() => load(), 1000);
  return onLiveEvent(() => soon());
}
