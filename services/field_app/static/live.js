// New assignments while the app is open: notify's live streams (Server-Sent Events, GET /v1/streams/{unit}) of
// the person's units, the access token in the query (EventSource sends no headers). An assignment to the person
// or their unit rings: a vibration where the phone allows it and a short beep (WebAudio, once the person has
// touched the app: browsers keep sound for after a gesture).

const TYPES = [
  "cn.griddispatch.case.assigned.v1",
  "cn.griddispatch.case.changed.v1",
  "cn.griddispatch.deadline.fired.v1",
  "cn.griddispatch.action.rejected.v1",
];

const eventListeners = new Set();
const stateListeners = new Set();
let sources = [];
let state = "off";

function setState(next) {
  if (next === state) return;
  state = next;
  for (const fn of stateListeners) fn(state);
}

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

/** One stream per unit the person holds a role in (at most four: a browser keeps ~6 connections per host). */
export function startLive(notifyUrl, units, token) {
  stopLive();
  if (!notifyUrl || !token || !units.length || typeof EventSource === "undefined") return;
  const base = notifyUrl.replace(/\/$/, "");
  for (const unit of units.slice(0, 4)) {
    const source = new EventSource(`${base}/v1/streams/${encodeURIComponent(unit)}?access_token=${encodeURIComponent(token)}`);
    const deliver = (message) => {
      let data = null;
      try {
        data = JSON.parse(message.data);
      } catch {
        data = null;
      }
      for (const fn of eventListeners) fn({ type: message.type, unit, id: message.lastEventId, data });
    };
    for (const type of TYPES) source.addEventListener(type, deliver);
    source.addEventListener("open", recount);
    source.addEventListener("error", recount);
    sources.push(source);
  }
  recount();
}

export function stopLive() {
  for (const source of sources) source.close();
  sources = [];
  recount();
}

let audio = null;

// Sound needs a gesture first: the first touch anywhere makes the audio context ready.
window.addEventListener("pointerdown", () => {
  if (audio || typeof AudioContext === "undefined") return;
  try {
    audio = new AudioContext();
  } catch {
    audio = null;
  }
}, { once: true });

/** Ring for a new assignment. Returns what the phone did: {vibrated, beeped} (the tests read it). */
export function ring() {
  let vibrated = false;
  let beeped = false;
  if (navigator.vibrate) {
    try {
      vibrated = navigator.vibrate([200, 100, 200]);
    } catch {
      vibrated = false;
    }
  }
  if (audio) {
    try {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.35);
      beeped = true;
    } catch {
      beeped = false;
    }
  }
  document.documentElement.dataset.rang = String(Number(document.documentElement.dataset.rang || 0) + 1);
  return { vibrated, beeped };
}
