// The reply-template picker: choosing a template fills the reply at once. Without
// JavaScript the "Use this template" button reloads the page with the reply filled in.
(function () {
  "use strict";

  document.querySelectorAll("[data-template-target]").forEach(function (picker) {
    var reply = document.getElementById(picker.getAttribute("data-template-target"));
    var choice = picker.querySelector("select");
    if (!reply || !choice) {
      return;
    }
    choice.addEventListener("change", function () {
      var option = choice.options[choice.selectedIndex];
      var text = option ? option.getAttribute("data-text") : null;
      if (text !== null) {
        reply.value = text;
      }
    });
  });
})();
