// lon/lat to SVG: an equirectangular projection scaled by cos(latitude), fitted to a viewBox.

export const VIEW_WIDTH = 1000;
const PAD = 12;

function* positions(geometry) {
  if (!geometry) return;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  for (const polygon of polygons) for (const ring of polygon) for (const position of ring) yield position;
}

/** A projection fitted to the geometries: {project([lon, lat]) -> [x, y], width, height}. */
export function fit(geometries) {
  let minLon = Infinity, maxLon = -Infinity, minLat = Infinity, maxLat = -Infinity;
  for (const geometry of geometries) {
    for (const [lon, lat] of positions(geometry)) {
      minLon = Math.min(minLon, lon);
      maxLon = Math.max(maxLon, lon);
      minLat = Math.min(minLat, lat);
      maxLat = Math.max(maxLat, lat);
    }
  }
  if (!Number.isFinite(minLon)) return { project: () => [0, 0], width: VIEW_WIDTH, height: VIEW_WIDTH * 0.6 };
  const kx = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * kx, 1e-9);
  const spanY = Math.max(maxLat - minLat, 1e-9);
  const scale = (VIEW_WIDTH - 2 * PAD) / spanX;
  const height = spanY * scale + 2 * PAD;
  return {
    width: VIEW_WIDTH,
    height,
    project: ([lon, lat]) => [PAD + (lon - minLon) * kx * scale, PAD + (maxLat - lat) * scale],
  };
}

/** The SVG path data of a Polygon or MultiPolygon (holes drawn with fill-rule evenodd). */
export function pathData(geometry, project) {
  if (!geometry) return "";
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  const parts = [];
  for (const polygon of polygons) {
    for (const ring of polygon) {
      const points = ring.map((p) => project(p).map((v) => v.toFixed(1)).join(","));
      if (points.length) parts.push(`M${points.join("L")}Z`);
    }
  }
  return parts.join("");
}

/** A point to label a polygon at: the area-weighted centroid of its largest outer ring. */
export function labelPoint(geometry, project) {
  if (!geometry) return null;
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  let best = null;
  for (const polygon of polygons) {
    const ring = polygon[0].map(project);
    let area = 0, cx = 0, cy = 0;
    for (let i = 0; i < ring.length - 1; i++) {
      const [x0, y0] = ring[i];
      const [x1, y1] = ring[i + 1];
      const cross = x0 * y1 - x1 * y0;
      area += cross;
      cx += (x0 + x1) * cross;
      cy += (y0 + y1) * cross;
    }
    if (Math.abs(area) < 1e-9) continue;
    const point = { x: cx / (3 * area), y: cy / (3 * area), area: Math.abs(area / 2) };
    if (!best || point.area > best.area) best = point;
  }
  return best;
}
