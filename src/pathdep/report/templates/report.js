/* Draw every figure, wire the run selector (show/hide a run on every plot at once),
   then write #pathdep-status: plots drawn, errors seen, done. */
(function () {
  "use strict";
  var status = document.getElementById("pathdep-status");
  var payloads = JSON.parse(document.getElementById("pathdep-figures").textContent);
  var config = {responsive: true, displaylogo: false, scrollZoom: false};
  var hidden = {};

  function applyRuns() {
    payloads.forEach(function (p, i) {
      var div = document.getElementById("plot-" + i);
      var show = [], hide = [];
      p.runs.forEach(function (run, t) {
        if (run === null) { return; }
        (hidden[run] ? hide : show).push(t);
      });
      if (show.length) { Plotly.restyle(div, {visible: true}, show); }
      if (hide.length) { Plotly.restyle(div, {visible: "legendonly"}, hide); }
    });
    var boxes = document.querySelectorAll("#run-selector input[data-run]");
    var n = 0;
    boxes.forEach(function (b) { if (b.checked) { n += 1; } });
    var count = document.getElementById("runs-shown");
    if (count) { count.textContent = n + " of " + boxes.length + " shown"; }
  }

  function setAll(checked) {
    document.querySelectorAll("#run-selector input[data-run]").forEach(function (b) {
      b.checked = checked;
      hidden[b.getAttribute("data-run")] = !checked;
    });
    applyRuns();
  }

  function wireSelector() {
    document.querySelectorAll("#run-selector input[data-run]").forEach(function (b) {
      b.addEventListener("change", function () {
        hidden[b.getAttribute("data-run")] = !b.checked;
        applyRuns();
      });
    });
    var all = document.getElementById("runs-all"), none = document.getElementById("runs-none");
    if (all) { all.addEventListener("click", function () { setAll(true); }); }
    if (none) { none.addEventListener("click", function () { setAll(false); }); }
  }

  function finish() {
    var drawn = 0;
    document.querySelectorAll(".js-plotly-plot").forEach(function (d) {
      if (d.querySelector("svg.main-svg")) { drawn += 1; }
    });
    status.setAttribute("data-plots-drawn", String(drawn));
    status.setAttribute("data-done", "1");
  }

  var draws = payloads.map(function (p, i) {
    var div = document.getElementById("plot-" + i);
    var layout = p.figure.layout || {};
    layout.autosize = true;
    return Plotly.newPlot(div, p.figure.data || [], layout, config).catch(function (e) {
      window.pathdepRecord("plot " + i + " failed: " + e);
    });
  });
  wireSelector();
  Promise.all(draws).then(finish, function (e) { window.pathdepRecord(e); finish(); });
})();
