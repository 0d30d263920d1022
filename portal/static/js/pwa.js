// The installable app on the page's side (portal/core/pwa.py serves the rest):
// registers the service worker, and looks after the one piece of health data kept on
// the device: the summary a signed-in user chose to keep from the printable record.
// That copy lives in a Cache Storage cache named for the user; a page shown to someone
// signed out deletes every such cache, and a page shown to a different user deletes
// the others'. Optional: without JavaScript or service workers nothing is stored.
(function () {
  "use strict";

  var config = document.querySelector("meta[name='portal-pwa']");
  if (!config) {
    return;
  }
  var PREFIX = config.dataset.cachePrefix;
  var SUMMARY_KEY = config.dataset.summaryKey;
  var state = config.dataset.state;  // "signed-in", "signed-out", "offline" or ""
  var ownCache = config.dataset.cache || "";
  var hasCaches = "caches" in window;

  function healthCaches() {
    return caches.keys().then(function (names) {
      return names.filter(function (name) {
        return name.indexOf(PREFIX) === 0;
      });
    });
  }

  function deleteHealthCaches(keep) {
    return healthCaches().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name !== keep;
      }).map(function (name) {
        return caches.delete(name);
      }));
    });
  }

  function register() {
    if (!("serviceWorker" in navigator) || !config.dataset.worker) {
      return;
    }
    navigator.serviceWorker.register(config.dataset.worker, { scope: "/" }).catch(function () {
      // No worker (a private window, an old browser): the site works as before.
    });
    if (navigator.serviceWorker.controller && state !== "offline") {
      navigator.serviceWorker.controller.postMessage({
        type: "language",
        language: document.documentElement.lang
      });
    }
  }

  // --- Keeping a copy (the printable record) ---

  function setStatus(text) {
    var status = document.querySelector("[data-offline-status]");
    if (status) {
      status.textContent = text;
    }
  }

  function saveSummary(button) {
    var summary = document.querySelector("[data-offline-summary]");
    if (!summary || !ownCache) {
      return Promise.resolve();
    }
    var copy = {
      title: document.querySelector("main h1") ? document.querySelector("main h1").textContent : "",
      savedAt: new Date().toISOString(),
      html: summary.innerHTML
    };
    var response = new Response(JSON.stringify(copy), {
      headers: { "Content-Type": "application/json" }
    });
    return deleteHealthCaches(ownCache).then(function () {
      return caches.open(ownCache);
    }).then(function (cache) {
      return cache.put(SUMMARY_KEY, response);
    }).then(function () {
      setStatus(button.dataset.saved);
      showRemove(true);
    }, function () {
      setStatus(button.dataset.failed);
    });
  }

  function removeSummary(button) {
    return caches.delete(ownCache).then(function () {
      setStatus(button.dataset.removed);
      showRemove(false);
    });
  }

  function showRemove(saved) {
    var remove = document.querySelector("[data-offline-remove]");
    if (remove) {
      remove.hidden = !saved;
    }
  }

  function offerSaving() {
    var save = document.querySelector("[data-offline-save]");
    var remove = document.querySelector("[data-offline-remove]");
    if (!save || state !== "signed-in" || !hasCaches) {
      return;
    }
    save.closest("[data-offline-copy]").hidden = false;
    save.addEventListener("click", function () {
      saveSummary(save);
    });
    remove.addEventListener("click", function () {
      removeSummary(remove);
    });
    // caches.has, not caches.open: opening would create an empty cache for the user.
    caches.has(ownCache).then(function (saved) {
      showRemove(saved);
    });
  }

  // --- Showing the copy (the offline page) ---

  // Offline, the copy on this device (there is at most one); online, only the
  // signed-in user's own.
  function readSummary(only) {
    return healthCaches().then(function (names) {
      if (only) {
        names = names.filter(function (name) {
          return name === only;
        });
      }
      if (!names.length) {
        return null;
      }
      return caches.open(names[0]).then(function (cache) {
        return cache.match(SUMMARY_KEY);
      }).then(function (found) {
        return found ? found.json() : null;
      });
    });
  }

  function showSummary(only) {
    var section = document.querySelector("[data-offline-saved]");
    var none = document.querySelector("[data-offline-none]");
    if (!section || !hasCaches) {
      return;
    }
    readSummary(only).then(function (copy) {
      if (!copy) {
        none.hidden = false;
        return;
      }
      // The copy is the portal's own escaped markup; parsed into an inert document,
      // so nothing in it can run (and the CSP forbids inline script anyway).
      var parsed = new DOMParser().parseFromString(copy.html, "text/html");
      var body = section.querySelector("[data-offline-body]");
      Array.prototype.forEach.call(parsed.body.childNodes, function (node) {
        body.appendChild(document.importNode(node, true));
      });
      var when = section.querySelector("[data-offline-when]");
      var date = new Date(copy.savedAt);
      when.textContent = when.dataset.label + " " + date.toLocaleString(document.documentElement.lang);
      section.hidden = false;
    }).catch(function () {
      none.hidden = false;
    });
  }

  register();
  if (!hasCaches) {
    return;
  }
  if (state === "signed-out") {
    deleteHealthCaches(null);
  } else if (state === "signed-in") {
    deleteHealthCaches(ownCache);
    offerSaving();
    showSummary(ownCache);
  } else if (state === "offline") {
    showSummary(null);
  }
})();
