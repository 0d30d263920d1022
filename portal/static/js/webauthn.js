// Passkeys (WebAuthn) for allauth's views, without inline script: each form says what it
// does in data-webauthn ("login", "authenticate" or "add"), the server's options come
// from a <script type="application/json"> block the page names in data-webauthn-options
// (or, for passwordless sign-in, from the form's own URL), and the browser's answer goes
// into the form's hidden credential field before it is submitted.
(function () {
  "use strict";

  var json = window.webauthnJSON;
  if (!json || !window.PublicKeyCredential) {
    return; // the passkey controls stay hidden; every page offers another way
  }

  function options(form) {
    var id = form.dataset.webauthnOptions;
    if (id) {
      return Promise.resolve(JSON.parse(document.getElementById(id).textContent));
    }
    return fetch(form.action, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(
      function (response) {
        if (!response.ok) {
          throw new Error("The server did not answer.");
        }
        return response.json();
      }
    );
  }

  function creationOptions(data, form) {
    var creation = JSON.parse(JSON.stringify(data.creation_options));
    var checkbox = form.querySelector("[data-webauthn-passwordless]");
    var selection = creation.publicKey.authenticatorSelection || {};
    if (checkbox) {
      // A passkey that signs in on its own must live on the device and check the person.
      selection.residentKey = checkbox.checked ? "required" : "discouraged";
      selection.requireResidentKey = checkbox.checked;
      if (checkbox.checked) {
        selection.userVerification = "required";
      }
      creation.publicKey.authenticatorSelection = selection;
    }
    return creation;
  }

  function ceremony(form, data) {
    if (form.dataset.webauthn === "add") {
      return json.create(creationOptions(data, form));
    }
    return json.get(data.request_options);
  }

  function showError(form) {
    var message = form.querySelector("[data-webauthn-error]");
    if (message) {
      message.textContent = form.dataset.webauthnErrorText || "";
      message.hidden = false;
    }
  }

  function start(form, button) {
    var credential = form.querySelector("[data-webauthn-credential]");
    var error = form.querySelector("[data-webauthn-error]");
    if (error) {
      error.hidden = true;
    }
    button.disabled = true;
    options(form)
      .then(function (data) {
        return ceremony(form, data);
      })
      .then(function (result) {
        credential.value = JSON.stringify(result);
        form.submit();
      })
      .catch(function () {
        // Cancelled, timed out, or no passkey for this site: say so, and let them retry.
        button.disabled = false;
        showError(form);
      });
  }

  function setUp(form) {
    var button = form.querySelector("[data-webauthn-start]");
    if (!button) {
      return;
    }
    var container = form.closest("[data-webauthn-container]");
    if (container) {
      container.hidden = false;
    }
    form.addEventListener("submit", function (event) {
      var credential = form.querySelector("[data-webauthn-credential]");
      if (credential && credential.value) {
        return;
      }
      event.preventDefault();
      start(form, button);
    });
  }

  var forms = document.querySelectorAll("form[data-webauthn]");
  for (var i = 0; i < forms.length; i += 1) {
    setUp(forms[i]);
  }
})();
