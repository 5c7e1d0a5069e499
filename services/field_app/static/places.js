// Where things are: GET /v1/locate (a point's micro-grid and the units above it, or a unit's), remembered for
// the session so a case page or the report form asks once.

import { api } from "./api.js";

const known = new Map();

function ask(params) {
  const search = new URLSearchParams(params).toString();
  if (!known.has(search)) {
    const answer = api(`/v1/locate?${search}`);
    known.set(search, answer);
    answer.catch(() => known.delete(search));
  }
  return known.get(search);
}

/** The place of a point {lon, lat} (else of a unit code), with the outlines to draw it on. */
export function place(point, unitCode) {
  if (point && point.lon != null) return ask({ lon: point.lon, lat: point.lat, boundary: "true" });
  if (unitCode) return ask({ unit: unitCode, boundary: "true" });
  return Promise.resolve(null);
}

/** The codes of a unit and every unit above it. */
export async function unitChain(code) {
  const answer = await ask({ unit: code });
  return (answer.chain || []).map((u) => u.code);
}
