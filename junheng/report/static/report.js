// The report works without this script; it only adds "expand / collapse all" for the earlier years'
// coefficient charts, and marks the page as scripted (the browser test reads data-js="ready").
(function () {
  "use strict";
  var button = document.getElementById("cv-toggle-all");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var all = document.querySelectorAll("details.cv-year");
      var open = button.getAttribute("aria-pressed") !== "true";
      for (var i = 0; i < all.length; i++) { all[i].open = open || all[i].classList.contains("latest"); }
      button.setAttribute("aria-pressed", open ? "true" : "false");
      button.textContent = open ? button.dataset.collapse : button.dataset.expand;
    });
  }
  document.documentElement.setAttribute("data-js", "ready");
})();
