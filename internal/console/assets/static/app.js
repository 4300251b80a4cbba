// airseal console: ask before destructive actions. Everything works
// without JavaScript; this only adds a confirmation.
"use strict";
document.addEventListener("submit", function (ev) {
  var f = ev.target;
  var msg = f.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) {
    ev.preventDefault();
  }
});
