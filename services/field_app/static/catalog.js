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

const ACTIONS = "griddispatch.app.actions";
const DAY_MS = 24 * 3600 * 1000;

/** The actions this intake takes (its OpenAPI document's ActionIn.action), asked at most once a day: a button
 * for an action the server does not have yet (report up, on an older intake) is not offered. */
export async function acceptedActions() {
  const copy = stored(ACTIONS);
  if (copy && Date.now() - copy.at < DAY_MS) return copy.actions;
  try {
    const doc = await api("/openapi.json");
    const action = (((doc.components || {}).schemas || {}).ActionIn || {}).properties.action || {};
    const actions = action.enum || [];
    localStorage.setItem(ACTIONS, JSON.stringify({ at: Date.now(), actions }));
    return actions;
  } catch {
    return copy ? copy.actions : [];
  }
}
