// The matter catalog (事项清单, GET /v1/matter-types) and the app's config, kept on the device so the report form
// and the case names work offline too.

import { api } from "./api.js";

const MATTERS = "griddispatch.app.matters";
const CONFIG = "griddispatch.app.config";
let matters = null;

function stored(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

/** The catalog's matter types [{code, name, level, ...}]; the stored copy when offline. */
export async function matterTypes() {
  if (matters) return matters;
  try {
    const answer = await api("/v1/matter-types");
    matters = answer.items || [];
    localStorage.setItem(MATTERS, JSON.stringify(matters.map((m) => ({ code: m.code, name: m.name, level: m.level }))));
  } catch (err) {
    const copy = stored(MATTERS);
    if (!copy) throw err;
    matters = copy;
  }
  return matters;
}

export function matterName(list, code) {
  if (!code) return "未分类";
  const m = (list || []).find((x) => x.code === code);
  return m ? m.name : code;
}

/** intake's public configuration (where notify is, the district's clock, how to sign in); stored for offline. */
export async function appConfig() {
  try {
    const config = await api("/console/config.json");
    localStorage.setItem(CONFIG, JSON.stringify(config));
    return config;
  } catch (err) {
    const copy = stored(CONFIG);
    if (!copy) throw err;
    return { ...copy, offline: true };
  }
}

export function forgetCatalog() {
  matters = null;
}
