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

// WGS84 -> GCJ-02 (the offset coordinates Chinese basemaps such as AMap draw in; Tianditu's CGCS2000 needs none).
// The registry stays WGS84: only what the console draws over such tiles is shifted (docs/console.md).
const GCJ_A = 6378245.0;
const GCJ_EE = 0.00669342162296594323;

function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function shiftLat(x, y) {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function shiftLon(x, y) {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

/** [lon, lat] in WGS84 as GCJ-02 (unchanged outside China). */
export function wgs84ToGcj02([lon, lat]) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const radLat = (lat / 180) * Math.PI;
  let magic = Math.sin(radLat);
  magic = 1 - GCJ_EE * magic * magic;
  const sqrtMagic = Math.sqrt(magic);
  const dLat = (shiftLat(lon - 105, lat - 35) * 180) / (((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtMagic)) * Math.PI);
  const dLon = (shiftLon(lon - 105, lat - 35) * 180) / ((GCJ_A / sqrtMagic) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}

/** A Polygon or MultiPolygon with every position mapped by fn. */
export function mapGeometry(geometry, fn) {
  if (!geometry) return geometry;
  if (geometry.type === "Polygon") return { type: "Polygon", coordinates: geometry.coordinates.map((ring) => ring.map(fn)) };
  if (geometry.type === "MultiPolygon") {
    return { type: "MultiPolygon", coordinates: geometry.coordinates.map((p) => p.map((ring) => ring.map(fn))) };
  }
  return geometry;
}
