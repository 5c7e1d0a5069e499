// Who the app is signed in as: a person's access and refresh token (POST /v1/auth/sign-in). A phone is the
// worker's own, and the app must still hold the session when it is reopened to send what was queued offline, so
// the pair is kept in this origin's localStorage (not the console's per-tab sessionStorage) until 退出. Tabs of
// the app share it: a refresh runs under a lock across them and re-reads the store first, so a spent refresh
// token is never sent twice (that would end the session).

const STORE = "griddispatch.app.session";
const LOCK = "griddispatch.app.refresh";

let session = load();
let timer = null;
const listeners = new Set();

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "null");
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) localStorage.setItem(STORE, JSON.stringify(next));
  else localStorage.removeItem(STORE);
  changed();
}

function changed() {
  schedule();
  for (const fn of listeners) fn(session);
}

// Another tab refreshed or signed out.
window.addEventListener("storage", (event) => {
  if (event.key !== STORE) return;
  session = load();
  changed();
});

export function current() {
  return session;
}

export function bearer() {
  return session ? session.access : null;
}

export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export class AuthError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

function fromTokens(tokens, person) {
  const seconds = Number(tokens.expires_in) || 900;
  return {
    access: tokens.access_token,
    refresh: tokens.refresh_token || null,
    expiresAt: Date.now() + seconds * 1000,
    lifetime: seconds,
    person: person || tokens.person || (session && session.person) || null,
  };
}

async function post(path, body, token) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  } catch (err) {
    throw new AuthError(0, { type: "network", detail: String(err) }, null);
  }
  if (response.ok) return response.status === 204 ? null : response.json().catch(() => null);
  const problem = await response.json().catch(() => ({ status: response.status, detail: response.statusText }));
  const wait = Number(response.headers.get("Retry-After") || problem.retry_after);
  throw new AuthError(response.status, problem, Number.isFinite(wait) && wait > 0 ? wait : null);
}

export async function signIn(login, password) {
  const tokens = await post("/v1/auth/sign-in", { login, password });
  save(fromTokens(tokens, tokens.person));
  return session;
}

function exclusive(fn) {
  return navigator.locks ? navigator.locks.request(LOCK, fn) : fn();
}

let refreshing = null;

/** A new token pair; null (signed out) when the refresh token is refused; throws on a network failure. */
export function refresh() {
  if (!session || !session.refresh) return Promise.resolve(null);
  const token = session.refresh;
  if (!refreshing) {
    refreshing = exclusive(async () => {
      session = load(); // what another tab may have stored while this one waited for the lock
      if (!session || session.refresh !== token) {
        changed();
        return session;
      }
      try {
        save(fromTokens(await post("/v1/auth/refresh", { refresh_token: token })));
        return session;
      } catch (err) {
        if (err.status === 0 || err.status >= 500 || err.status === 429) throw err; // keep it, try later
        if (load() && load().refresh === token) save(null);
        return null;
      }
    }).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Forget the session on this phone only (the server already ended it). */
export function forget() {
  save(null);
}

export async function signOut() {
  const was = session;
  save(null);
  if (!was) return;
  try {
    await post("/v1/auth/sign-out", {}, was.access);
  } catch {
    // expired, revoked or offline: the tokens are gone from this phone regardless
  }
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (!session || !session.refresh || !session.expiresAt) return;
  const early = Math.min(60, Math.max(5, (session.lifetime || 900) / 10)) * 1000;
  timer = setTimeout(() => {
    refresh().catch(() => setTimeout(schedule, 15000));
  }, Math.max(1000, session.expiresAt - Date.now() - early));
}

schedule();
