// The activation letter's "Print the letter" button (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var buttons = document.querySelectorAll("[data-print]");
  for (var i = 0; i < buttons.length; i += 1) {
    buttons[i].addEventListener("click", function () {
      window.print();
    });
  }
})();
