// 网格地图: the grids of the area drawn from the registry's polygons, coloured by the open cases lying in them
// (wherever they happened, whoever leads them now), by the overdue ones, or by those ever escalated.

import { api, ApiError, partyName, problemBox, query, units } from "./api.js";
import { clear, debounce, fmtTime, h } from "./dom.js";
import { fit, labelPoint, mapGeometry, pathData, wgs84ToGcj02 } from "./geo.js";
import * as L from "./vendor/leaflet/leaflet-src.esm.js";
import { LEVELS, OPEN_STATES, STATES, label } from "./labels.js";
import { liveState, onLiveEvent, onLiveState } from "./live.js";

const POLL_LIVE_MS = 60000; // a look now and then even while the stream is open
const POLL_FALLBACK_MS = 15000; // the stream is down, or does not carry the whole area
const SHOWN = 20; // cases listed in a grid's panel

export const LEGEND = [
  { cls: "fill-none", text: "无在办案件" },
  { cls: "fill-open1", text: "在办 1–2 件" },
  { cls: "fill-open2", text: "在办 3–5 件" },
  { cls: "fill-open3", text: "在办 6 件以上" },
  { cls: "fill-overdue1", text: "有超期案件（1–2 件）" },
  { cls: "fill-overdue2", text: "超期 3 件以上" },
];

// The layers: what colours the grids and what the number on each says.
export const LAYERS = [
  { key: "open", text: "在办" },
  { key: "overdue", text: "超期" },
  { key: "escalated", text: "已升级" },
];

/** The fill of a grid on a layer: the open layer marks overdue cases red too; the others count one thing. */
export function layerClass(layer, p) {
  if (layer === "overdue") return p.overdue >= 3 ? "fill-overdue2" : p.overdue > 0 ? "fill-overdue1" : "fill-none";
  if (layer === "escalated") return p.escalated >= 3 ? "fill-open3" : p.escalated > 0 ? "fill-open2" : "fill-none";
  return fillClass(p.open, p.overdue);
}

export function fillClass(open, overdue) {
  if (overdue >= 3) return "fill-overdue2";
  if (overdue > 0) return "fill-overdue1";
  if (open >= 6) return "fill-open3";
  if (open >= 3) return "fill-open2";
  if (open > 0) return "fill-open1";
  return "fill-none";
}

function descendantsOf(all, root) {
  const children = new Map();
  for (const u of all) {
    if (!children.has(u.parent)) children.set(u.parent, []);
    children.get(u.parent).push(u);
  }
  const out = [];
  const stack = [root];
  while (stack.length) {
    const code = stack.pop();
    for (const child of children.get(code) || []) {
      out.push(child);
      stack.push(child.code);
    }
  }
  return out;
}

/** The map of grids: returned features, from /v1/map (counts) or, without it, the registry (no counts). */
async function loadGrids(root, all, whole) {
  try {
    // A department's key has no area of its own: /v1/map then draws the district with its cases.
    const collection = await api(`/v1/map${query({ unit: whole ? "" : `unit:${root}` })}`);
    return { features: collection.features, counted: true, totals: collection.totals };
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404 && err.problem.detail === "Not Found";
    if (!missing) throw err;
    const grids = descendantsOf(all, root).filter((u) => u.level === "grid");
    return {
      features: grids.map((u) => ({
        geometry: u.boundary,
        properties: { code: u.code, name: u.name, level: u.level, parent: u.parent, open: 0, overdue: 0, escalated: 0 },
      })),
      counted: false,
      totals: null,
    };
  }
}

export async function renderMap(main, ctx, params) {
  const all = await units();
  const roots = ctx.areaCodes;
  const root = params.get("unit") && ctx.canSee(params.get("unit")) ? params.get("unit") : roots[0];
  const rootUnit = all.find((u) => u.code === root);
  const choices = [];
  for (const code of roots) {
    const unit = all.find((u) => u.code === code);
    if (!unit) continue;
    choices.push(unit);
    if (unit.level === "district") choices.push(...all.filter((u) => u.parent === code && u.level === "street"));
  }

  const status = h("span", { class: "muted", id: "map-updated" });
  const scope = h(
    "select",
    {
      id: "map-scope",
      "aria-label": "地图范围",
      onchange: (e) => (location.hash = `#/map?unit=${encodeURIComponent(e.target.value)}`),
    },
    choices.map((u) =>
      h("option", { value: u.code, selected: u.code === root }, `${u.name}（${label(LEVELS, u.level)}）`),
    ),
  );
  const svgHolder = h("div", { class: "map-wrap" }, h("p", { class: "muted" }, "正在加载地图…"));
  const detail = h("div", { id: "grid-detail", class: "grid-detail", "aria-live": "polite" },
    h("p", { class: "muted" }, "点击地图上的网格，查看该网格的在办案件。"),
  );
  const note = h("div", { id: "map-note" });
  const totals = h("div", { class: "totals", id: "map-totals" });
  const whoLeads = h("p", { class: "muted small", id: "map-leads" });
  let layer = LAYERS.some((l) => l.key === params.get("layer")) ? params.get("layer") : "open";
  const layerChoice = h("fieldset", { class: "layers", id: "map-layer" },
    h("legend", {}, "着色"),
    LAYERS.map((l) =>
      h("label", {},
        h("input", {
          type: "radio", name: "map-layer", value: l.key, checked: l.key === layer,
          onchange: () => { layer = l.key; if (lastData) paint(lastData); },
        }),
        ` ${l.text}`,
      ),
    ),
  );
  clear(
    main,
    h("section", { class: "page map-page" },
      h("div", { class: "toolbar" },
        h("h2", {}, `网格地图 · ${rootUnit ? rootUnit.name : root}`),
        h("label", {}, "范围 ", scope),
        h("button", { type: "button", onclick: () => refresh() }, "刷新"),
        status,
      ),
      note,
      h("div", { class: "map-layout" },
        svgHolder,
        h("aside", { class: "side" },
          totals,
          whoLeads,
          layerChoice,
          h("h3", {}, "图例"),
          h("ul", { class: "legend" },
            LEGEND.map((item) => h("li", {}, h("span", { class: `swatch ${item.cls}`, "aria-hidden": "true" }), item.text)),
          ),
          h("p", { class: "muted small" }, "数字为发生在该网格（含其微网格）内的在办案件数，不论现由谁主办；红色表示有超期案件。"),
          detail,
        ),
      ),
    ),
  );

  let selected = params.get("grid");
  let paths = new Map();
  let labels = new Map();
  let features = [];
  let lastData = null;

  // With a tile layer configured (config.json's `tiles`): a slippy map (Leaflet, vendored) with the same grids,
  // counts and colours over the tiles; the shapes shifted to GCJ-02 when the tiles are drawn in it.
  const tiles = ctx.config.tiles;
  let slippy = null;
  const drawTiled = (data) => {
    features = data.features;
    const shift = tiles.crs === "gcj02" ? (g) => mapGeometry(g, wgs84ToGcj02) : (g) => g;
    if (slippy) slippy.remove();
    const box = h("div", { class: "slippy-map", id: "slippy-map", role: "group", "aria-label": `${rootUnit ? rootUnit.name : root}网格地图` });
    clear(svgHolder, box);
    slippy = L.map(box, { zoomSnap: 0.25 });
    L.tileLayer(tiles.url, {
      subdomains: tiles.subdomains || "abc", maxZoom: tiles.max_zoom || 18, attribution: tiles.attribution || "",
    }).addTo(slippy);
    // The view first (Leaflet draws a shape only on a map with a view), then the shapes.
    const shapes = features.map((f) => [f, L.geoJSON(shift(f.geometry), { style: { className: "grid", weight: 1.2, fillOpacity: 0.55 } })]);
    const grids = L.featureGroup(shapes.map(([, shape]) => shape));
    if (shapes.length) slippy.fitBounds(grids.getBounds(), { padding: [12, 12] });
    else if (rootUnit && rootUnit.boundary) slippy.fitBounds(L.geoJSON(shift(rootUnit.boundary)).getBounds());
    grids.addTo(slippy);
    paths = new Map();
    labels = new Map();
    for (const [f, shape] of shapes) {
      const p = f.properties;
      shape.on("click", () => select(p.code));
      const path = shape.getLayers()[0].getElement();
      path.dataset.base = "grid leaflet-interactive"; // Leaflet's class: without it the path takes no clicks
      path.dataset.code = p.code;
      path.setAttribute("tabindex", "0");
      path.setAttribute("role", "button");
      path.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          select(p.code);
        }
      });
      path.append(h("svg:title", {}));
      paths.set(p.code, path);
      const at = labelPoint(shift(f.geometry), (position) => position);
      if (at) {
        const icon = L.divIcon({ className: "grid-count", html: '<span class="count"></span>', iconSize: null });
        const marker = L.marker([at.y, at.x], { interactive: false, keyboard: false, icon }).addTo(slippy);
        labels.set(p.code, marker.getElement().firstChild);
      }
    }
    for (const u of descendantsOf(all, root).filter((o) => o.level === "street" || o.level === "community")) {
      L.geoJSON(shift(u.boundary), { interactive: false, style: { className: `outline ${u.level}`, fill: false } }).addTo(slippy);
    }
    paint(data);
  };

  const draw = (data) => {
    if (tiles && tiles.url) {
      drawTiled(data);
      return;
    }
    features = data.features;
    const geometries = features.map((f) => f.geometry);
    const outlines = descendantsOf(all, root).filter((u) => u.level === "street" || u.level === "community");
    if (rootUnit && rootUnit.boundary) geometries.push(rootUnit.boundary);
    const view = fit(geometries);
    const svg = h("svg:svg", {
      class: "district-map",
      viewBox: `0 0 ${view.width} ${view.height.toFixed(0)}`,
      role: "group",
      "aria-label": `${rootUnit ? rootUnit.name : root}网格地图`,
    });
    const gridLayer = h("svg:g", { class: "grids" });
    paths = new Map();
    labels = new Map();
    for (const f of features) {
      const p = f.properties;
      const path = h("svg:path", {
        d: pathData(f.geometry, view.project),
        class: "grid",
        tabindex: "0",
        role: "button",
        dataset: { code: p.code },
        onclick: () => select(p.code),
        onkeydown: (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            select(p.code);
          }
        },
      });
      path.append(h("svg:title", {}));
      paths.set(p.code, path);
      gridLayer.append(path);
    }
    const outlineLayer = h("svg:g", { class: "outlines", "aria-hidden": "true" });
    for (const u of outlines) {
      outlineLayer.append(h("svg:path", { d: pathData(u.boundary, view.project), class: `outline ${u.level}` }));
    }
    if (rootUnit && rootUnit.boundary && rootUnit.level !== "grid") {
      outlineLayer.append(h("svg:path", { d: pathData(rootUnit.boundary, view.project), class: "outline root" }));
    }
    const labelLayer = h("svg:g", { class: "labels", "aria-hidden": "true" });
    for (const f of features) {
      const at = labelPoint(f.geometry, view.project);
      if (!at) continue;
      const text = h("svg:text", { x: at.x.toFixed(1), y: at.y.toFixed(1), class: "count" });
      labels.set(f.properties.code, text);
      labelLayer.append(text);
    }
    const nameLevel = rootUnit && rootUnit.level === "district" ? "street" : "community";
    for (const u of outlines.filter((o) => o.level === nameLevel)) {
      const at = labelPoint(u.boundary, view.project);
      if (at) labelLayer.append(h("svg:text", { x: at.x.toFixed(1), y: (at.y - 14).toFixed(1), class: "area-name" }, u.name));
    }
    svg.append(gridLayer, outlineLayer, labelLayer);
    clear(svgHolder, svg);
    paint(data);
  };

  const paint = (data) => {
    lastData = data;
    features = data.features;
    let open = 0;
    let overdue = 0;
    let escalated = 0;
    for (const f of data.features) {
      const p = f.properties;
      open += p.open;
      overdue += p.overdue;
      escalated += p.escalated || 0;
      const path = paths.get(p.code);
      if (!path) continue;
      path.setAttribute("class", `${path.dataset.base || "grid"} ${layerClass(layer, p)}${p.code === selected ? " selected" : ""}`);
      path.dataset.open = p.open;
      path.dataset.overdue = p.overdue;
      path.dataset.escalated = p.escalated || 0;
      const said = `在办 ${p.open} 件，超期 ${p.overdue} 件，已升级 ${p.escalated || 0} 件`;
      path.setAttribute("aria-label", `${p.name}：${said}`);
      path.querySelector("title").textContent = `${p.name}\n${said}`;
      const text = labels.get(p.code);
      const shown = layer === "open" ? p.open : p[layer] || 0;
      if (text) text.textContent = shown > 0 ? String(shown) : "";
    }
    // The area's totals count every open case once, also those lying in none of the grids drawn.
    const t = data.totals || { open, overdue, escalated, outside_units_shown: 0, led_above_level: 0, led_by_departments: 0 };
    clear(totals,
      h("div", { class: "total" }, h("span", {}, "网格"), h("strong", { id: "total-grids" }, data.features.length)),
      h("div", { class: "total" }, h("span", {}, "在办"), h("strong", { id: "total-open" }, t.open)),
      h("div", { class: `total${t.overdue ? " alarm" : ""}` }, h("span", {}, "超期"), h("strong", { id: "total-overdue" }, t.overdue)),
      h("div", { class: "total" }, h("span", {}, "已升级"), h("strong", { id: "total-escalated" }, t.escalated)),
    );
    clear(whoLeads,
      `其中 ${t.led_above_level} 件现由上级主办，${t.led_by_departments} 件由部门主办`,
      t.outside_units_shown ? `；${t.outside_units_shown} 件发生在本区域但不在所示网格内` : "",
      "。",
    );
    status.textContent = `更新于 ${fmtTime(new Date().toISOString())}`;
    clear(note, data.counted ? null : h("p", { class: "notice" }, "案件统计接口（/v1/map）暂不可用：地图只显示网格边界。"));
  };

  const select = async (code) => {
    selected = code;
    for (const [c, path] of paths) path.classList.toggle("selected", c === code);
    const feature = features.find((f) => f.properties.code === code);
    if (!feature) return;
    const p = feature.properties;
    const list = h("ol", { class: "grid-cases" }, h("li", { class: "muted" }, "正在加载…"));
    clear(detail,
      h("h3", {}, p.name),
      h("p", {}, `网格编码 ${p.code} · 在办 ${p.open} 件 · 超期 ${p.overdue} 件 · 已升级 ${p.escalated || 0} 件`),
      list,
      p.open > SHOWN ? h("p", { class: "muted small" }, `显示最新的 ${SHOWN} 件，共 ${p.open} 件。`) : null,
      h("p", {}, h("a", { href: `#/cases?place=${encodeURIComponent(`unit:${code}`)}&state=open` }, "在案件列表中查看全部 →")),
    );
    try {
      // What the grid counts: the open cases that happened in it, whoever leads them.
      const page = await api(`/v1/cases${query({ place: `unit:${code}`, state: OPEN_STATES, limit: SHOWN })}`);
      clear(list, page.items.length === 0 ? h("li", { class: "muted" }, "该网格暂无在办案件。") : null,
        page.items.map((c) =>
          h("li", { class: c.deadlines && c.deadlines.overdue ? "overdue" : "" },
            h("a", { href: `#/cases/${c.case_id}` }, c.case_number), " ",
            c.title, " ",
            h("span", { class: `state state-${c.state}` }, label(STATES, c.state)),
            c.deadlines && c.deadlines.overdue ? h("span", { class: "badge badge-red" }, "超期") : null,
            h("div", { class: "muted small" }, `主办：${partyName(c.assignment && c.assignment.lead, ctx.departments)}`),
          ),
        ),
      );
    } catch (err) {
      clear(list, h("li", {}, problemBox(err)));
    }
  };

  let inFlight = false;
  const refresh = async () => {
    if (inFlight) return;
    inFlight = true;
    try {
      const data = await loadGrids(root, all, ctx.wholeDistrict && root === ctx.areaCodes[0]);
      if (paths.size === 0 || data.features.length !== paths.size) draw(data);
      else paint(data);
      if (selected && paths.has(selected)) select(selected);
    } catch (err) {
      clear(note, problemBox(err));
    } finally {
      inFlight = false;
    }
  };

  await refresh();
  if (selected) select(selected);

  const soon = debounce(refresh, 700);
  const stopEvents = onLiveEvent(() => soon());
  const stopState = onLiveState(() => {});
  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (document.visibilityState === "visible") await refresh();
      schedule();
    }, liveState() === "live" ? POLL_LIVE_MS : POLL_FALLBACK_MS);
  };
  schedule();
  return () => {
    stopEvents();
    stopState();
    clearTimeout(timer);
    if (slippy) slippy.remove();
  };
}
