// 待发送: every report and action is first written here (IndexedDB) with its Idempotency-Key, made once when the
// person pressed send, and then sent: at once when online, else when the network returns (the online event, and
// retries with back-off). A retry carries the same key and the same body, so intake answers it with what it
// answered the first time (one case per report, one step per action): nothing is sent twice to effect.
// Photos are uploaded first (POST /v1/attachments, each with a key of its own), their ids kept with the item.

import { ApiError, api, problemText, problemType } from "./api.js";
import * as db from "./idb.js";

const STORE = "outbox";
const LOCK = "griddispatch.app.outbox";
const KEEP_SENT = 20;
const listeners = new Set();
let timer = null;
let paused = null; // why sending waits: "offline" | "signed_out" | null

export function onOutboxChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function tell(event) {
  for (const fn of listeners) fn(event);
}

export function pausedBecause() {
  return paused;
}

export async function items() {
  const list = await db.all(STORE);
  return list.sort((a, b) => a.createdAt - b.createdAt);
}

/** Queue one report or action: {id (the Idempotency-Key), kind, summary, caseId?, body, photos: [{role, blob}]}. */
export async function enqueue(item) {
  const stored = await db.put(STORE, {
    ...item,
    photos: (item.photos || []).map((p, n) => ({ role: p.role, blob: p.blob, name: p.name || `photo-${n + 1}.jpg`, attachmentId: null })),
    status: "pending",
    attempts: 0,
    nextAt: 0,
    error: null,
    createdAt: Date.now(),
  });
  tell({ type: "queued", item: stored });
  flush();
  return stored;
}

export async function retry(id) {
  const item = await db.get(STORE, id);
  if (!item) return;
  await db.put(STORE, { ...item, status: "pending", nextAt: 0, error: null });
  tell({ type: "changed" });
  flush();
}

/** A report whose photos cannot be uploaded (no attachments on this server): send it without them. */
export async function withoutPhotos(id) {
  const item = await db.get(STORE, id);
  if (!item) return;
  await db.put(STORE, { ...item, photos: [], status: "pending", nextAt: 0, error: null });
  tell({ type: "changed" });
  flush();
}

export async function discard(id) {
  await db.remove(STORE, id);
  tell({ type: "changed" });
}

function backoff(attempts, retryAfter) {
  const base = Math.min(300, 2 ** Math.min(attempts, 8)) * 1000;
  const jitter = base * (0.8 + Math.random() * 0.4);
  return Math.max(jitter, (retryAfter || 0) * 1000);
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(flush, Math.max(500, ms));
}

let flushing = null;

/** Send what is due, oldest first, one tab at a time. Resolves when this round is over. */
export function flush() {
  if (flushing) return flushing;
  const run = async () => {
    const pending = (await items()).filter((x) => x.status === "pending" || x.status === "sending");
    if (pending.length === 0) {
      paused = null;
      return;
    }
    if (navigator.onLine === false) {
      paused = "offline";
      tell({ type: "paused" });
      return; // the online event calls again
    }
    paused = null;
    for (const item of pending) {
      if (item.nextAt > Date.now()) continue;
      const stop = await sendOne(item);
      if (stop) break;
    }
    const left = (await items()).filter((x) => x.status === "pending");
    if (left.length && !paused) schedule(Math.min(...left.map((x) => x.nextAt - Date.now())));
  };
  const locked = navigator.locks ? navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => (lock ? run() : null)) : run();
  flushing = Promise.resolve(locked).catch(() => {}).finally(() => {
    flushing = null;
  });
  return flushing;
}

/** Send one item; true when the whole round should stop (no network, signed out). */
async function sendOne(item) {
  item = { ...item, status: "sending" };
  await db.put(STORE, item);
  tell({ type: "changed" });
  try {
    for (const [n, photo] of item.photos.entries()) {
      if (photo.attachmentId) continue;
      photo.attachmentId = await upload(photo, `${item.id}.photo-${n + 1}`);
      await db.put(STORE, item); // an upload is kept: a retry does not upload it again
    }
    const ids = item.photos.map((p) => p.attachmentId).filter(Boolean);
    const body = ids.length ? { ...item.body, attachment_ids: ids } : item.body;
    const path = item.kind === "report" ? "/v1/reports" : `/v1/cases/${item.caseId}/actions`;
    const result = await api(path, { method: "POST", body, headers: { "Idempotency-Key": item.id } });
    const sent = { ...item, status: "sent", sentAt: Date.now(), result, error: null, photos: item.photos.map((p) => ({ ...p, blob: null })) };
    await db.put(STORE, sent);
    await prune();
    tell({ type: "sent", item: sent });
    return false;
  } catch (err) {
    return failed(item, err);
  }
}

async function failed(item, err) {
  const attempts = item.attempts + 1;
  if (err instanceof ApiError && err.status === 401) {
    paused = "signed_out";
    await db.put(STORE, { ...item, status: "pending", attempts, error: "登录已失效：重新登录后自动发送。" });
    tell({ type: "paused" });
    return true;
  }
  if (!(err instanceof ApiError) || err.retriable) {
    const offline = !(err instanceof ApiError) || err.status === 0;
    await db.put(STORE, {
      ...item, status: "pending", attempts, nextAt: Date.now() + backoff(attempts, err.retryAfter), error: problemText(err),
    });
    tell({ type: "changed" });
    return offline; // no network: the others would fail alike
  }
  // Refused for what it is (a case no longer in that state, not yours, invalid): sending it again cannot help.
  // A photo refused (or no uploads on this server): the report or action can still go without its photos.
  const noPhotos = Boolean(err.photoUpload) && [404, 405, 413, 415, 422].includes(err.status);
  const why = !noPhotos ? problemText(err)
    : err.status === 404 || err.status === 405 ? "本服务器暂不支持上传照片。"
    : err.status === 413 ? "照片太大，未能上传。"
    : "照片未被接受（请用 JPEG、PNG 或 HEIC 照片）。";
  await db.put(STORE, { ...item, status: "failed", attempts, error: why, code: problemType(err.problem), noPhotos });
  tell({ type: "failed", item });
  return false;
}

async function upload(photo, key) {
  const form = new FormData();
  form.append("file", photo.blob, photo.name);
  form.append("role", photo.role || "evidence");
  try {
    const answer = await api("/v1/attachments", { method: "POST", form, headers: { "Idempotency-Key": key } });
    return answer.id;
  } catch (err) {
    if (err instanceof ApiError) err.photoUpload = true;
    throw err;
  }
}

async function prune() {
  const sent = (await items()).filter((x) => x.status === "sent");
  for (const old of sent.slice(0, Math.max(0, sent.length - KEEP_SENT))) await db.remove(STORE, old.id);
}

window.addEventListener("online", () => flush());
