/* voipadmin call records: calls (answered / other) and billable minutes per site and per trunk (chart.js, vendored).
   The data is the page's own (json_script "cdr-chart-data", computed by cdrs.totals): no second request;
   its ``words`` are the labels in the page's language. */
(function () {
  "use strict";

  function draw(canvas, series, words) {
    function w(key, english) { return (words && words[key]) || english; }
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { label: w("answered", "Answered"), data: series.answered, backgroundColor: "#198754", stack: "calls", yAxisID: "calls" },
          { label: w("unanswered", "Not answered"), data: series.unanswered, backgroundColor: "#adb5bd", stack: "calls", yAxisID: "calls" },
          { label: w("minutes", "Billable minutes"), data: series.minutes, backgroundColor: "#0d6efd", stack: "minutes",
            yAxisID: "minutes" }
        ]
      },
      options: {
        animation: false, aspectRatio: 1.6, interaction: { mode: "index", intersect: false },
        scales: {
          calls: { position: "left", beginAtZero: true, stacked: true, ticks: { precision: 0 },
                   title: { display: true, text: w("calls_axis", "calls") } },
          minutes: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                     title: { display: true, text: w("minutes_axis", "minutes") } },
          x: { stacked: true }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const source = document.getElementById("cdr-chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    const data = JSON.parse(source.textContent);
    const charts = [["cdr-site-chart", data.sites], ["cdr-trunk-chart", data.trunks]];
    charts.forEach(function (pair) {
      const canvas = document.getElementById(pair[0]);
      if (canvas) { canvas.dataset.drawn = draw(canvas, pair[1], data.words) ? "yes" : "no"; }
    });
  });
})();
