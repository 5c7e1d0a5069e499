// 重新派遣's picker: a search box over the area's units (grouped by level) and the departments with their
// branches (grouped by department); the select keeps name="unit", so the form reads it as before.

import { h } from "./dom.js";
import { LEVELS, label } from "./labels.js";

const LEVEL_ORDER = ["district", "street", "community", "grid", "micro_grid"];

/** Groups of {label, options: [{value, text, search}]}: one a level, then one a department with its branches. */
export function pickerGroups(units, depts) {
  const groups = [];
  for (const level of LEVEL_ORDER) {
    const options = units.filter((u) => u.level === level).map((u) => ({
      value: `unit:${u.code}`, text: u.name, search: `${u.name} ${u.code}`.toLowerCase(),
    }));
    if (options.length) groups.push({ label: `${label(LEVELS, level)}（${options.length}）`, kind: "level", options });
  }
  for (const d of depts) {
    const options = [{ value: `department:${d.code}`, text: `${d.name}（部门本级）`, search: `${d.name} ${d.code}`.toLowerCase() }];
    for (const b of d.branches || []) {
      options.push({ value: `branch:${b.code}`, text: b.name, search: `${b.name} ${b.code} ${d.name}`.toLowerCase() });
    }
    groups.push({ label: `部门 · ${d.name}`, kind: "department", options });
  }
  return groups;
}

/** The groups with only the options matching every word of `text` (name or code); empty groups dropped. */
export function filterGroups(groups, text) {
  const words = String(text || "").toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return groups;
  return groups
    .map((g) => ({ ...g, options: g.options.filter((o) => words.every((w) => o.search.includes(w))) }))
    .filter((g) => g.options.length);
}

/** The search box and the grouped select (name="unit"). */
export function unitPicker(units, depts) {
  const groups = pickerGroups(units, depts);
  const select = h("select", { name: "unit", id: "redispatch-unit", size: "8" });
  const count = h("span", { class: "muted small", id: "redispatch-count", "aria-live": "polite" });
  const draw = (text) => {
    const shown = filterGroups(groups, text);
    const chosen = select.value;
    select.replaceChildren(
      ...shown.map((g) => h("optgroup", { label: g.label, dataset: { kind: g.kind } },
        g.options.map((o) => h("option", { value: o.value, selected: o.value === chosen }, o.text)))),
    );
    const n = shown.reduce((sum, g) => sum + g.options.length, 0);
    count.textContent = text ? `找到 ${n} 个单位` : `共 ${n} 个单位`;
  };
  const search = h("input", {
    type: "search", id: "redispatch-search", placeholder: "输入名称或编码搜索，如 城管、社区、610199",
    autocomplete: "off", oninput: (e) => draw(e.target.value),
  });
  draw("");
  return [
    h("label", {}, "搜索单位", search),
    count,
    h("label", {}, "派往", select),
  ];
}
