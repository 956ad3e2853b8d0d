(function () {
  "use strict";
  var config = {displaylogo: false, responsive: true, showLink: false,
                modeBarButtonsToRemove: ["sendDataToCloud", "select2d", "lasso2d"]};
  var specs = document.querySelectorAll('script[type="application/json"][data-figure]');
  Array.prototype.forEach.call(specs, function (el) {
    var spec = JSON.parse(el.textContent);
    var div = document.getElementById(el.getAttribute("data-figure"));
    if (!div) { return; }
    // a fixed height lets "responsive" resizes change the width only
    if (spec.layout && spec.layout.height) { div.style.height = spec.layout.height + "px"; }
    Plotly.newPlot(div, spec.data, spec.layout, config);
  });

  // the probe menu: one probe's findings, figures and tables at a time
  var picker = document.getElementById("probe-select");
  if (picker) {
    picker.addEventListener("change", function () {
      var blocks = document.querySelectorAll(".probe-view");
      Array.prototype.forEach.call(blocks, function (block) {
        var shown = block.getAttribute("data-probe") === picker.value;
        block.hidden = !shown;
        if (shown) {  // a figure drawn while hidden takes its width when shown
          Array.prototype.forEach.call(block.querySelectorAll("div.js-plotly-plot"),
            function (div) { Plotly.Plots.resize(div); });
        }
      });
    });
  }

  function cellKey(cell) {
    var k = cell.getAttribute("data-key");
    return k === null || k === "" ? null : parseFloat(k);
  }
  function sortBy(table, col, ascending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = cellKey(a.cells[col]), kb = cellKey(b.cells[col]), r;
      if (ka !== null && kb !== null) { r = ka - kb; }
      else if (ka !== null) { r = -1; }
      else if (kb !== null) { r = 1; }
      else { r = a.cells[col].textContent.localeCompare(b.cells[col].textContent); }
      return ascending ? r : -r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      function toggle() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        sortBy(table, col, asc);
      }
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    });
  });
})();
