// The live stream of the signed-in area: notify's Server-Sent Events (GET /v1/streams/{unit}).
// EventSource cannot send headers, so the credential goes in the query (notify allows it for streams only):
// a system's key as ?api_key=, a person's short-lived access token as ?access_token=.

const EVENT_TYPES = [
  "cn.griddispatch.case.assigned.v1",
  "cn.griddispatch.case.changed.v1",
  "cn.griddispatch.deadline.fired.v1",
  "cn.griddispatch.action.rejected.v1",
];

const eventListeners = new Set();
const stateListeners = new Set();
let sources = [];
let state = "off"; // off | connecting | live | down
let received = 0;

function setState(next) {
  if (next === state) return;
  state = next;
  for (const fn of stateListeners) fn(state);
}

export function liveState() {
  return state;
}

export function eventsReceived() {
  return received;
}

/** Call fn(event) for every live event; returns a function that stops it. */
export function onLiveEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}

export function onLiveState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

function recount() {
  const states = sources.map((s) => s.readyState);
  if (states.length === 0) setState("off");
  else if (states.every((s) => s === EventSource.OPEN)) setState("live");
  else if (states.some((s) => s === EventSource.CONNECTING)) setState("connecting");
  else setState("down");
}

/** Open one stream per area unit (at most four: a browser keeps ~6 connections per host). */
export function startLive(notifyUrl, units, key, { person = false } = {}) {
  stopLive();
  if (!notifyUrl || !units.length || typeof EventSource === "undefined") return;
  const base = notifyUrl.replace(/\/$/, "");
  for (const unit of units.slice(0, 4)) {
    const url = `${base}/v1/streams/${encodeURIComponent(unit)}?${person ? "access_token" : "api_key"}=${encodeURIComponent(key)}`;
    const source = new EventSource(url);
    const deliver = (message) => {
      received += 1;
      let data = null;
      try {
        data = JSON.parse(message.data);
      } catch {
        data = null;
      }
      for (const fn of eventListeners) fn({ type: message.type, unit, id: message.lastEventId, data });
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, deliver);
    source.addEventListener("message", deliver);
    // A resume from before what notify keeps (its retention): events may be gone, so what is shown reloads.
    source.addEventListener("expired", deliver);
    source.addEventListener("open", recount);
    source.addEventListener("error", () => {
      // EventSource reconnects by itself (notify sends retry:); a refused one (401/403/404, CORS) is CLOSED.
      recount();
    });
    sources.push(source);
  }
  recount();
}

export function stopLive() {
  for (const source of sources) source.close();
  sources = [];
  recount();
}
