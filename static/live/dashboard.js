/* voipadmin dashboard: chart of concurrent calls per site (chart.js, vendored). */
(function () {
  "use strict";
  const COLOURS = ["#0d6efd", "#198754", "#fd7e14", "#6f42c1", "#d63384", "#20c997", "#dc3545", "#6c757d"];
  let chart = null;

  function draw(canvas, data) {
    const datasets = data.datasets.map(function (d, i) {
      return { label: d.label, data: d.data, borderColor: COLOURS[i % COLOURS.length],
               backgroundColor: COLOURS[i % COLOURS.length], spanGaps: true, pointRadius: 0, tension: 0.2 };
    });
    if (chart) {
      chart.data.labels = data.labels;
      chart.data.datasets = datasets;
      chart.update("none");
      return;
    }
    chart = new Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: { animation: false, aspectRatio: 4, interaction: { mode: "index", intersect: false },
                 scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "calls" } },
                           x: { ticks: { maxTicksLimit: 12 } } } }
    });
  }

  function refresh(canvas) {
    fetch(canvas.dataset.url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { draw(canvas, data); })
      .catch(function () { /* keep the last chart; the estate panel shows staleness */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const canvas = document.getElementById("calls-chart");
    if (!canvas || typeof Chart === "undefined") { return; }
    refresh(canvas);
    setInterval(function () { refresh(canvas); }, 60000);
  });
})();
