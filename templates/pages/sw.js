// The card's service worker: /card (its QR code and number are inline in the page) is
// kept in the browser's cache, so the card opens at the till with no signal. Network
// first: a fresh balance whenever there is a connection, the last card seen when not.
// Signing out forgets it, so the next person holding the phone does not see it.
const CACHE = "wallet-card-v1";
const CARD = "/card";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      fetch(CARD, { credentials: "same-origin", redirect: "manual" }).then((reply) =>
        reply.ok && reply.type === "basic" ? cache.put(CARD, reply) : undefined
      ).catch(() => undefined)
    ).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === "/signout") {
    event.waitUntil(caches.delete(CACHE));
    return;
  }
  if (request.method !== "GET" || url.pathname !== CARD || url.search) return;
  event.respondWith(
    fetch(request).then((reply) => {
      // Only the card itself: a redirect to the sign-in page is not a card.
      if (reply.ok && !reply.redirected) {
        const copy = reply.clone();
        caches.open(CACHE).then((cache) => cache.put(CARD, copy));
      }
      return reply;
    }).catch(() =>
      caches.open(CACHE).then((cache) => cache.match(CARD)).then(
        (cached) => cached || Response.error()
      )
    )
  );
});
