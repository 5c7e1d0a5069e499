// The service worker: the app shell (these files) kept in the Cache API so the app opens with no network.
// Served from the cache at once and refreshed from the network behind it (stale-while-revalidate): an update
// shows at the next start. The API (/v1/...) is never cached here: the app keeps its own copies (queue, cases)
// and its outbox in the page.

const VERSION = "field-app-v1";
const SHELL = [
  "./",
  "index.html",
  "app.css",
  "app.js",
  "api.js",
  "case.js",
  "catalog.js",
  "dom.js",
  "idb.js",
  "labels.js",
  "live.js",
  "outbox.js",
  "pending.js",
  "photos.js",
  "places.js",
  "queue.js",
  "report.js",
  "session.js",
  "signin.js",
  "spot.js",
  "manifest.webmanifest",
  "icons/icon-192.png",
  "icons/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("field-app-") && n !== VERSION).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname) || url.pathname.endsWith("/sw.js")) return;
  const key = request.mode === "navigate" ? new URL("index.html", scope).href : url.href.split("#")[0].split("?")[0];
  event.respondWith(
    caches.open(VERSION).then(async (cache) => {
      const hit = await cache.match(key);
      const fresh = fetch(request)
        .then((response) => {
          if (response.ok && response.type === "basic") cache.put(key, response.clone());
          return response;
        })
        .catch(() => null);
      if (hit) {
        event.waitUntil(fresh);
        return hit;
      }
      return (await fresh) || new Response("离线，且本页面尚未缓存。", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
    }),
  );
});
