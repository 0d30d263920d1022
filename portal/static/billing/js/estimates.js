// Shows the "Print this estimate" button (it needs JavaScript) and prints the page when pressed.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print-page]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
