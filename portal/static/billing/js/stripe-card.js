// Stripe's card form in the browser (billing/gateways/stripe_card.html). Stripe Elements
// draws the card fields in Stripe's own frame; on submit Stripe turns the card into a
// PaymentMethod, and its id (pm_...) goes into the form's hidden `token` field, with the
// brand and last four digits, and the form is sent. The card number never reaches the
// portal. Same contract as sandbox-card.js: a page with a choice of cards ("method")
// needs the card only for a new card.
(function () {
  "use strict";

  var fields = document.querySelector("[data-stripe-card]");
  var form = fields && fields.closest("form[data-card-form]");
  if (!form) {
    return;
  }
  var entry = fields.closest("[data-card-entry]") || fields;
  var error = fields.querySelector("[data-card-error]");
  var brands = { visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover" };
  var busy = false;
  fields.hidden = false;

  function say(text) {
    error.textContent = text;
  }

  if (typeof window.Stripe !== "function" || !fields.dataset.publishableKey) {
    say(fields.dataset.errorUnavailable);
    return;
  }
  var stripe = window.Stripe(fields.dataset.publishableKey);
  var card = stripe.elements({ locale: document.documentElement.lang || "auto" }).create("card");
  card.mount(fields.querySelector("[data-stripe-card-element]"));

  function hidden(name) {
    return form.querySelector('input[type="hidden"][name="' + name + '"]');
  }

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

  function put(name, value) {
    var field = hidden(name);
    if (field) {
      field.value = value;
    }
  }

  function forgetToken() {
    ["token", "card_brand", "card_last4"].forEach(function (name) {
      put(name, "");
    });
  }

  form.querySelectorAll('input[name="method"]').forEach(function (radio) {
    radio.addEventListener("change", showEntry);
  });
  card.on("change", function (event) {
    forgetToken();
    say(event.error ? event.error.message : "");
  });
  // Back to this page from the confirm step: make a new PaymentMethod for a new try.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      forgetToken();
      busy = false;
    }
  });
  showEntry();

  form.addEventListener("submit", function (event) {
    var token = hidden("token");
    if (!token || !newCardChosen() || token.value) {
      return;
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    say(fields.dataset.checking);
    stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
      busy = false;
      if (result.error) {
        say(result.error.message);
        card.focus();
        return;
      }
      say("");
      var method = result.paymentMethod;
      token.value = method.id;
      put("card_brand", brands[method.card.brand] || method.card.brand);
      put("card_last4", method.card.last4);
      form.submit();
    }, function () {
      busy = false;
      say(fields.dataset.errorUnavailable);
    });
  });
})();
