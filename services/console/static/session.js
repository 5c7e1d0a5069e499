// Who the console is signed in as: a person (access + refresh token from POST /v1/auth/sign-in or single
// sign-on) or, for system operators, an API key. Kept in this tab's sessionStorage only (never localStorage):
// a reload stays signed in, closing the tab forgets it. The access token is refreshed a minute before it
// expires (and once on a 401 token_expired); the old refresh token is dead after use.

const STORE = "griddispatch.console.session";
const LEGACY_KEY = "griddispatch.console.key"; // what the key-only console kept

let session = load();
let refreshing = null;
let timer = null;
const listeners = new Set();

function load() {
  try {
    const raw = sessionStorage.getItem(STORE);
    if (raw) return JSON.parse(raw);
  } catch {
    sessionStorage.removeItem(STORE);
  }
  const key = sessionStorage.getItem(LEGACY_KEY);
  return key ? { kind: "key", access: key } : null;
}

function save(next) {
  session = next;
  sessionStorage.removeItem(LEGACY_KEY);
  if (next) sessionStorage.setItem(STORE, JSON.stringify(next));
  else sessionStorage.removeItem(STORE);
  schedule();
  for (const fn of listeners) fn(session);
}

/** The current session: {kind: "person"|"key", access, refresh?, expiresAt?, person?} or null. */
export function current() {
  return session;
}

/** The bearer credential of every call: the person's access token or the API key. */
export function bearer() {
  return session ? session.access : null;
}

export function isPerson() {
  return Boolean(session && session.kind === "person");
}

/** fn(session) whenever the credential changes (sign-in, refresh, sign-out): the live stream reconnects. */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function fromTokens(tokens, person) {
  const seconds = Number(tokens.expires_in) || 900;
  return {
    kind: "person",
    access: tokens.access_token,
    refresh: tokens.refresh_token || null,
    expiresAt: Date.now() + seconds * 1000,
    lifetime: seconds,
    person: person || tokens.person || (session && session.person) || null,
  };
}

export function useKey(key) {
  save(key ? { kind: "key", access: key } : null);
}

export function useTokens(tokens) {
  save(fromTokens(tokens));
}

export function forget() {
  save(null);
}

/** A failed auth call: the HTTP status, the problem body and Retry-After (seconds) when given. */
export class AuthError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
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
  let problem;
  try {
    problem = await response.json();
  } catch {
    problem = { status: response.status, detail: response.statusText };
  }
  const wait = Number(response.headers.get("Retry-After") || problem.retry_after);
  throw new AuthError(response.status, problem, Number.isFinite(wait) && wait > 0 ? wait : null);
}

/** Sign in with a username or phone and a password; throws AuthError. */
export async function signInWithPassword(login, password) {
  const tokens = await post("/v1/auth/sign-in", { login, password });
  save(fromTokens(tokens, tokens.person));
  return session;
}

// Tabs that share a session (one opened from another copies its sessionStorage) must not both spend the same
// refresh token: a spent one coming back revokes the whole session. So a refresh runs under a lock held across
// the console's tabs, and its result is told to the others, which take the new pair instead of refreshing.
const LOCK = "griddispatch.console.refresh";
const channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("griddispatch.console.session");
if (channel) {
  channel.onmessage = (event) => {
    const m = event.data || {};
    if (m.type === "refreshed" && session && session.kind === "person" && session.refresh === m.spent) save(m.session);
  };
}

function exclusive(fn) {
  if (typeof navigator !== "undefined" && navigator.locks) return navigator.locks.request(LOCK, fn);
  return fn();
}

// The channel's message can arrive after the lock is released (a busy machine): so the tab that refreshed also
// notes, before it lets go of the lock, a digest of the refresh token it spent. A tab holding that token then
// waits for the new pair instead of spending the token again. Only digests are kept, never a token.
const SPENT = "griddispatch.console.spent";

async function digest(text) {
  if (typeof crypto === "undefined" || !crypto.subtle) return null;
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function spentDigests() {
  try {
    return JSON.parse(localStorage.getItem(SPENT) || "[]");
  } catch (err) {
    return [];
  }
}

function noteSpent(hash) {
  if (!hash) return;
  try {
    localStorage.setItem(SPENT, JSON.stringify([hash, ...spentDigests()].slice(0, 8)));
  } catch (err) {
    // storage refused: the channel's message still carries the pair
  }
}

async function until(ready, ms) {
  for (const end = Date.now() + ms; !ready() && Date.now() < end; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A new token pair; null (signed out) when the refresh token is refused. One at a time, across tabs. */
export function refresh() {
  if (!session || session.kind !== "person" || !session.refresh) return Promise.resolve(null);
  if (!refreshing) {
    const token = session.refresh;
    refreshing = exclusive(async () => {
      // Let a message another tab sent while it held the lock arrive first.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (!session || session.refresh !== token) return session; // refreshed by another tab, or signed out
      const hash = await digest(token);
      if (hash && spentDigests().includes(hash)) {
        await until(() => !session || session.refresh !== token, 5000); // its pair is on its way
        return session;
      }
      try {
        const tokens = await post("/v1/auth/refresh", { refresh_token: token });
        if (session && session.refresh === token) {
          noteSpent(hash);
          save(fromTokens(tokens));
          if (channel) channel.postMessage({ type: "refreshed", spent: token, session });
        }
        return session;
      } catch (err) {
        if (err.status === 0) throw err; // the network: keep the session and try again later
        if (session && session.refresh === token) save(null);
        return null;
      }
    }).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Revoke the session at the server (best effort: the tab forgets it either way). */
export async function signOut() {
  const was = session;
  save(null);
  if (!was || was.kind !== "person") return;
  try {
    await post("/v1/auth/sign-out", {}, was.access); // intake takes JSON bodies only, even an empty one
  } catch {
    // Already expired or revoked, or the network is down: the tokens are gone from this tab regardless.
  }
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  if (!session || session.kind !== "person" || !session.refresh || !session.expiresAt) return;
  // A minute early, or a tenth of the lifetime for very short tokens.
  const early = Math.min(60, Math.max(5, (session.lifetime || 900) / 10)) * 1000;
  const wait = Math.max(1000, session.expiresAt - Date.now() - early);
  timer = setTimeout(() => {
    refresh().catch(() => setTimeout(schedule, 15000));
  }, wait);
}

/**
 * Single sign-on lands on /console/#signed_in&access_token=…&refresh_token=…&expires_in=… (or #sign_in_error=…).
 * Read it, then take it out of the address bar and the history. Returns {signedIn} or {error} or null.
 */
export function takeFragment() {
  const raw = location.hash.replace(/^#/, "");
  if (!/(^|&)(access_token|sign_in_error|error)=/.test(raw)) return null;
  const params = new URLSearchParams(raw.replace(/^signed_in&?/, "").replace(/^\/?\?/, ""));
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  const error = params.get("sign_in_error") || params.get("error");
  if (error) return { error, detail: params.get("error_description") || params.get("detail") || "" };
  const tokens = {
    access_token: params.get("access_token"),
    refresh_token: params.get("refresh_token"),
    expires_in: params.get("expires_in"),
  };
  if (!tokens.access_token) return null;
  save(fromTokens(tokens, null));
  return { signedIn: true };
}

schedule();
