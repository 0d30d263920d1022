// The idle-timeout warning (portal/accounts/sessions.py enforces the timeout on the
// server). A minute before the session would end, ask the server how long is really
// left (another tab may have kept it alive); if it is nearly over, open the dialog.
// "Stay signed in" tells the server and starts the count again; when time runs out the
// page is loaded again, and the server sends it to the sign-in page with an explanation.
(function () {
  "use strict";

  var dialog = document.querySelector("[data-session-timeout]");
  if (!dialog || typeof dialog.showModal !== "function") {
    return;
  }
  var extendForm = dialog.querySelector("[data-session-extend]");
  var statusUrl = dialog.dataset.statusUrl;
  var warning = parseInt(dialog.dataset.warningSeconds, 10) || 60;
  var warnTimer = null;
  var endTimer = null;
  var returnFocus = null;

  function schedule(secondsLeft) {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    if (secondsLeft > warning) {
      warnTimer = window.setTimeout(check, (secondsLeft - warning) * 1000);
    }
    endTimer = window.setTimeout(expire, (secondsLeft + 1) * 1000);
  }

  function leave() {
    // A plain GET of this page: the server sends it to sign-in, saying why.
    window.location.assign(window.location.href.split("#")[0]);
  }

  function expire() {
    // Time is up by this page's count; another tab may have kept the session going.
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(answer)
      .then(function (data) {
        if (data.remaining <= 0) {
          leave();
          return;
        }
        if (data.remaining > warning) {
          close();
        }
        schedule(data.remaining);
      })
      .catch(leave);
  }

  function answer(response) {
    if (!response.ok || (response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
      throw new Error("signed out");
    }
    return response.json();
  }

  function check() {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(answer)
      .then(function (data) {
        schedule(data.remaining);
        if (data.remaining <= warning) {
          open();
        }
      })
      .catch(leave);
  }

  function open() {
    if (dialog.open) {
      return;
    }
    returnFocus = document.activeElement;
    dialog.showModal();
  }

  function close() {
    if (dialog.open) {
      dialog.close();
    }
    if (returnFocus && typeof returnFocus.focus === "function") {
      returnFocus.focus();
    }
    returnFocus = null;
  }

  function stay() {
    fetch(extendForm.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: new FormData(extendForm),
    })
      .then(answer)
      .then(function (data) {
        close();
        schedule(data.remaining);
      })
      .catch(leave);
  }

  extendForm.addEventListener("submit", function (event) {
    event.preventDefault();
    stay();
  });
  // Escape means "I am here": stay signed in rather than leave the warning unanswered.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    stay();
  });

  var secondsLeft = parseInt(dialog.dataset.secondsLeft, 10) || 0;
  schedule(secondsLeft);
  if (secondsLeft <= warning) {
    check();
  }
})();
