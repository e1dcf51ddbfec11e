/* Record what goes wrong on the page (script errors, rejected promises, blocked
   requests, console.error, dialogs) in #pathdep-status, for people and for tests. */
(function () {
  "use strict";
  var errors = [];
  function record(msg) {
    errors.push(String(msg).slice(0, 500));
    var s = document.getElementById("pathdep-status");
    if (s) { s.setAttribute("data-errors", JSON.stringify(errors)); }
    var b = document.getElementById("pathdep-errors");
    if (b) { b.hidden = false; b.textContent = "Problems on this page: " + errors.join(" | "); }
  }
  window.pathdepErrors = errors;
  window.pathdepRecord = record;
  window.addEventListener("error", function (e) {
    var t = e.target;
    record(e.message || ("could not load " + ((t && (t.src || t.href)) || "a resource")));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { record("unhandled: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) {
    record("blocked (" + e.violatedDirective + "): " + e.blockedURI);
  });
  var consoleError = console.error;
  console.error = function () {
    record(Array.prototype.join.call(arguments, " "));
    return consoleError.apply(console, arguments);
  };
  ["alert", "confirm", "prompt"].forEach(function (name) {
    window[name] = function (m) { record(name + "() called: " + m); return null; };
  });
})();
