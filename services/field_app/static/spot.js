// 位置示意图: the spot on the outlines of its micro-grid and grid (GET /v1/locate?boundary=true), drawn as SVG
// with no tiles, so it works with a weak signal. A plain equirectangular projection is exact enough at a grid's
// size (a few hundred metres).

import { h } from "./dom.js";

const W = 340;
const PAD = 14;

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  return [];
}

/** An <svg> of the place; `point` {lon, lat} or null. Null when there is no outline to draw. */
export function spotMap(place, point) {
  const outer = rings(place && place.grid && place.grid.boundary);
  const inner = rings(place && place.unit && place.unit.boundary);
  const all = [...outer, ...inner].flat();
  if (point && point.lon != null) all.push([point.lon, point.lat]);
  if (!all.length || (!outer.length && !inner.length)) return null;
  const lons = all.map((p) => p[0]);
  const lats = all.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  const k = Math.cos(((y0 + y1) / 2) * (Math.PI / 180));
  // As tall as the place is, within what a phone's screen can spare.
  const aspect = Math.max(y1 - y0, 1e-9) / Math.max((x1 - x0) * k, 1e-9);
  const H = Math.round(Math.min(260, Math.max(150, (W - 2 * PAD) * aspect + 2 * PAD + 18)));
  const scale = Math.min((W - 2 * PAD) / Math.max((x1 - x0) * k, 1e-9), (H - 2 * PAD - 18) / Math.max(y1 - y0, 1e-9));
  const ox = (W - (x1 - x0) * k * scale) / 2;
  const oy = (H - 18 - (y1 - y0) * scale) / 2 + 18;
  const xy = ([lon, lat]) => [ox + (lon - x0) * k * scale, H - oy - (lat - y0) * scale];
  const path = (ring) => ring.map((p, n) => `${n ? "L" : "M"}${xy(p).map((v) => v.toFixed(1)).join(" ")}`).join(" ") + " Z";
  const name = [place.grid && place.grid.name, place.unit && place.unit.level === "micro_grid" ? place.unit.name : null].filter(Boolean).join(" · ");
  const marker = point && point.lon != null ? xy([point.lon, point.lat]) : null;
  return h("svg:svg", { class: "spot", id: "spot-map", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `位置示意：${name}` },
    outer.map((ring) => h("svg:path", { d: path(ring), fill: "#ffffff", stroke: "#111", "stroke-width": "2.5" })),
    inner.map((ring) => h("svg:path", { d: path(ring), fill: "#cfe0f7", stroke: "#0b4f9c", "stroke-width": "3" })),
    marker ? [
      h("svg:circle", { cx: marker[0], cy: marker[1], r: "13", fill: "#b3141a", stroke: "#fff", "stroke-width": "4", id: "spot-marker" }),
      h("svg:circle", { cx: marker[0], cy: marker[1], r: "4", fill: "#fff" }),
    ] : null,
    h("svg:text", { x: "8", y: String(H - 8), "font-size": "13", fill: "#111" }, name),
  );
}
