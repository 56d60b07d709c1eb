/* Admin charts: every <canvas data-chart="line|bar|funnel" data-source="<id of a JSON script>"> becomes a Chart.js chart.
   The JSON is {labels, datasets: [{label, data}], yMin?, yMax?, minor? (money in minor units with this many decimals)}. */
(function () {
  "use strict";
  if (!window.Chart) { return; }
  var PALETTE = ["#0b5cad", "#b4400f", "#1d6b36", "#6b3fa0", "#a4161a", "#4a5561"];
  var FILLS = ["rgba(11,92,173,.14)", "rgba(180,64,15,.12)", "rgba(29,107,54,.12)", "rgba(107,63,160,.12)"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 13;
  Chart.defaults.color = "#1b1f24";
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
  Chart.defaults.animation = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? false : { duration: 400 };

  function money(value, minor) {
    var major = value / Math.pow(10, minor);
    return major.toLocaleString(undefined, { minimumFractionDigits: minor ? 2 : 0, maximumFractionDigits: minor ? 2 : 0 });
  }

  function build(canvas) {
    var source = document.getElementById(canvas.dataset.source);
    if (!source) { return; }
    var spec = JSON.parse(source.textContent);
    var kind = canvas.dataset.chart;
    var isMoney = typeof spec.minor === "number";
    var datasets = spec.datasets.map(function (d, i) {
      var colour = PALETTE[i % PALETTE.length];
      var set = { label: d.label, data: d.data, borderColor: colour, backgroundColor: kind === "line" ? FILLS[i % FILLS.length] : colour };
      if (kind === "line") { set.tension = 0.25; set.pointRadius = spec.labels.length > 40 ? 0 : 3; set.fill = i === 0; set.borderWidth = 2; }
      if (kind === "funnel") {
        set.backgroundColor = d.data.map(function (_, j) { return "rgba(11,92,173," + (1 - j * 0.13).toFixed(2) + ")"; });
        set.borderRadius = 4; set.barPercentage = 0.9; set.categoryPercentage = 0.95;
      }
      if (kind === "bar") { set.borderRadius = 3; set.maxBarThickness = 42; }
      return set;
    });
    var options = {
      responsive: true, maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { display: datasets.length > 1, position: "bottom" },
                 tooltip: { callbacks: {} } },
      scales: { x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
                y: { beginAtZero: spec.yMin === undefined, min: spec.yMin, max: spec.yMax, grid: { color: "#e6ebf1" },
                     ticks: { precision: isMoney ? undefined : 0 } } }
    };
    if (isMoney) {
      options.scales.y.ticks.callback = function (v) { return money(v, spec.minor); };
      options.plugins.tooltip.callbacks.label = function (ctx) { return ctx.dataset.label + ": " + money(ctx.parsed.y, spec.minor); };
    }
    if (canvas.dataset.stacked) { options.scales.x.stacked = true; options.scales.y.stacked = true; }
    if (kind === "funnel") {
      options.indexAxis = "y";
      options.scales = { x: { beginAtZero: true, grid: { color: "#e6ebf1" }, ticks: { precision: 0 } }, y: { grid: { display: false } } };
      var first = spec.datasets[0].data[0] || 0;
      options.plugins.tooltip.callbacks.label = function (ctx) {
        var share = first ? " (" + (100 * ctx.parsed.x / first).toFixed(1) + " % of searches)" : "";
        return ctx.parsed.x.toLocaleString() + share;
      };
    }
    var chart = new Chart(canvas, { type: kind === "funnel" ? "bar" : kind, data: { labels: spec.labels, datasets: datasets }, options: options });
    canvas.dataset.rendered = "1";
    return chart;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(build);
})();
