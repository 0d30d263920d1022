// The portal's service worker (served by portal/core/pwa.py at /service-worker.js).
// It keeps the app shell (stylesheets, scripts, icons, the offline page) and nothing
// with health data: every page is fetched from the network, and when that fails the
// offline page is shown instead. The one health item on the device is the summary a
// signed-in user chose to keep; the page's script (static/js/pwa.js) writes and deletes
// that cache, and this worker only leaves it alone when tidying old shells.
"use strict";

var CONFIG = {{ config|safe }};
var SHELL_CACHE = "portal-shell-" + CONFIG.version;
var SHELL_URLS = [CONFIG.offlineUrl, CONFIG.manifestUrl].concat(CONFIG.staticUrls);
var STATIC_URLS = new Set(CONFIG.staticUrls);

function store(cache, url) {
  // With the user's cookies, for their language; the shell header has the offline page
  // rendered as if signed out, so it carries nothing personal. A redirect (a session
  // that just ended sends every request to sign in) or an error is never kept in its place.
  var headers = {};
  headers[CONFIG.shellHeader] = "1";
  return fetch(new Request(url, { cache: "reload", headers: headers })).then(function (response) {
    if (!response.ok || response.redirected) {
      throw new Error("Not kept: " + url);
    }
    return cache.put(url, response);
  });
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      return Promise.all(SHELL_URLS.map(function (url) {
        return store(cache, url);
      }));
    }).then(function () {
      return self.skipWaiting();
    })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("portal-shell-") === 0 && name !== SHELL_CACHE;
      }).map(function (name) {
        return caches.delete(name);
      }));
    })
  );
});

function fromShell(url) {
  return caches.open(SHELL_CACHE).then(function (cache) {
    return cache.match(url);
  });
}

function offlinePage() {
  return fromShell(CONFIG.offlineUrl).then(function (response) {
    return response || Response.error();
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") {
    return;  // the browser sends it as if there were no worker
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate") {
    // Network only: pages are never stored. Offline, the offline page stands in.
    event.respondWith(fetch(request).catch(offlinePage));
    return;
  }
  if (STATIC_URLS.has(url.pathname)) {
    event.respondWith(fromShell(url.pathname).then(function (cached) {
      return cached || fetch(request);
    }));
    return;
  }
  if (url.pathname === CONFIG.manifestUrl) {
    event.respondWith(fetch(request).catch(function () {
      return fromShell(CONFIG.manifestUrl).then(function (cached) {
        return cached || Response.error();
      });
    }));
  }
});

self.addEventListener("message", function (event) {
  // The page says which language it is in; a shell kept in another language is
  // fetched again so the offline page speaks the user's language.
  var data = event.data || {};
  if (data.type !== "language" || typeof data.language !== "string") {
    return;
  }
  event.waitUntil(fromShell(CONFIG.offlineUrl).then(function (cached) {
    if (cached && cached.headers.get("Content-Language") === data.language) {
      return undefined;
    }
    return caches.open(SHELL_CACHE).then(function (cache) {
      return store(cache, CONFIG.offlineUrl);
    });
  }).catch(function () {
    return undefined;
  }));
});
