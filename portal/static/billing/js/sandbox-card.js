// The sandbox card processor's form in the browser. The card inputs have no name, so the
// card never goes to the portal's own pages: on submit this posts it (JSON, with the CSRF
// token) to the sandbox's tokens endpoint, puts the token it returns in the form's hidden
// `token` field, with the brand and last four digits, and submits the form.
// Without JavaScript the inputs stay hidden and the page says how else to pay.
(function () {
  "use strict";

  document.querySelectorAll("[data-sandbox-card]").forEach(function (fields) {
    var form = fields.closest("form[data-card-form]");
    if (!form || !window.fetch) {
      return;
    }
    var entry = fields.closest("[data-card-entry]") || fields;
    var error = fields.querySelector("[data-card-error]");
    var inputs = {
      number: fields.querySelector("[data-card-number]"),
      month: fields.querySelector("[data-card-month]"),
      year: fields.querySelector("[data-card-year]"),
      cvc: fields.querySelector("[data-card-cvc]")
    };
    var busy = false;
    fields.hidden = false;

    function hidden(name) {
      return form.querySelector('input[type="hidden"][name="' + name + '"]');
    }

    // A page with a choice of cards ("method") needs the card only for a new card.
    function newCardChosen() {
      var methods = form.querySelectorAll('input[name="method"]');
      if (!methods.length) {
        return true;
      }
      var chosen = form.querySelector('input[name="method"]:checked');
      return !!chosen && (chosen.value === "card" || chosen.value === "hsa");
    }

    function showEntry() {
      entry.hidden = !newCardChosen();
    }

    function forgetToken() {
      ["token", "card_brand", "card_last4"].forEach(function (name) {
        var field = hidden(name);
        if (field) {
          field.value = "";
        }
      });
    }

    function say(text) {
      error.textContent = text;
    }

    form.querySelectorAll('input[name="method"]').forEach(function (radio) {
      radio.addEventListener("change", showEntry);
    });
    Object.keys(inputs).forEach(function (key) {
      inputs[key].addEventListener("input", forgetToken);
    });
    // Back to this page from the confirm step: the token may be spent; make a new one.
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        forgetToken();
        busy = false;
      }
    });
    showEntry();

    form.addEventListener("submit", function (event) {
      var token = hidden("token");
      if (!newCardChosen() || (token && token.value)) {
        return;
      }
      event.preventDefault();
      if (busy) {
        return;
      }
      var card = {
        number: inputs.number.value.replace(/[\s-]/g, ""),
        exp_month: inputs.month.value.trim(),
        exp_year: inputs.year.value.trim(),
        cvc: inputs.cvc.value.trim(),
        reusable: fields.getAttribute("data-reusable") === "true"
      };
      if (!card.number || !card.exp_month || !card.exp_year || !card.cvc) {
        say(fields.getAttribute("data-error-missing"));
        inputs.number.focus();
        return;
      }
      busy = true;
      say("");
      var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]');
      fetch(fields.getAttribute("data-tokens-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "Accept": "application/json",
          "X-CSRFToken": csrf ? csrf.value : ""
        },
        body: JSON.stringify(card)
      }).then(function (response) {
        return response.json().then(function (data) {
          return { ok: response.ok, data: data };
        });
      }).then(function (answer) {
        if (!answer.ok || !answer.data.token) {
          busy = false;
          say(answer.data.error || fields.getAttribute("data-error-network"));
          inputs.number.focus();
          return;
        }
        hidden("token").value = answer.data.token;
        hidden("card_brand").value = answer.data.brand || "";
        hidden("card_last4").value = answer.data.last4 || "";
        form.submit();
      }).catch(function () {
        busy = false;
        say(fields.getAttribute("data-error-network"));
      });
    });
  });
})();
