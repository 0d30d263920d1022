// Printing and copying on the record's download and share pages. Optional: without
// JavaScript the buttons stay hidden and the page says how to do the same by hand.
(function () {
  "use strict";

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.print();
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentElement.querySelector(".copy-status");
    if (!field || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        if (status) {
          status.textContent = button.getAttribute("data-copied");
        }
      }, function () {
        field.select();
      });
    });
  });
})();
