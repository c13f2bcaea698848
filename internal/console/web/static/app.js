// acstore console: draws each chart from the data the server put in its
// data-chart attribute, with Apache ECharts (embedded, see /static/).
"use strict";
(function () {
  // The first page of a search comes before its total: fetch it.
  document.querySelectorAll("[data-count]").forEach(function (el) {
    fetch(el.dataset.count, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        el.textContent = j.error ? "?" : String(j.total) + (j.missing ? " (" + j.missing.join(", ") + " down)" : "");
        el.dataset.done = "1";
      })
      .catch(function () { el.textContent = "?"; el.dataset.done = "1"; });
  });
  if (typeof echarts === "undefined") { return; }
  document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
    var spec = JSON.parse(el.dataset.chart);
    var chart = echarts.init(el);
    var horizontal = spec.type === "bar";
    var series = spec.series.map(function (s) {
      return { name: s.name, type: spec.type, data: s.data, smooth: spec.type === "line" };
    });
    var cat = { type: "category", data: spec.categories, axisLabel: { width: 140, overflow: "truncate" } };
    var val = { type: "value" };
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? Object.assign({ inverse: true }, cat) : val,
      series: series
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
