/* The console's KPI charts (issue 21). Reads the page's JSON data block (the CSP allows no
   inline script) and draws each <canvas data-chart=...> with the vendored Chart.js. */
(function () {
  "use strict";
  var block = document.getElementById("kpi-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var palette = ["#1f5f99", "#d9822b", "#3a8f3a", "#b33a3a", "#7a52a3", "#8c6d1f", "#2a9d9d", "#c2569b", "#5f6b73"];
  Chart.defaults.animation = false;
  Chart.defaults.font.size = 12;
  Chart.defaults.maintainAspectRatio = false;
  var money = function (v) { return Number(v); };
  var axes = { x: { ticks: { autoSkip: false, maxRotation: 45, minRotation: 0 } }, y: { beginAtZero: true } };

  function bar(buckets, label) {
    return {
      type: "bar",
      data: { labels: buckets.map(function (b) { return b.key; }),
              datasets: [{ label: label, data: buckets.map(function (b) { return money(b.amount); }),
                           backgroundColor: palette[0] }] },
      options: { scales: axes, plugins: { legend: { display: false } } }
    };
  }

  var builders = {
    age: function () { return bar(data.inventory.by_age, "dollars"); },
    payer: function () { var c = bar(data.inventory.by_payer, "dollars"); c.options.indexAxis = "y"; c.options.scales = { x: { beginAtZero: true } }; return c; },
    cause: function () { return bar(data.inventory.by_cause, "dollars"); },
    root_cause: function () { return bar(data.inventory.by_root_cause, "dollars"); },
    government: function () { return bar(data.inventory.by_government, "dollars"); },
    recovery: function () {
      var kinds = ["identified", "refunded", "offset", "recouped", "disputed", "won"];
      return { type: "bar",
        data: { labels: data.recovery.months.map(function (m) { return m.month; }),
                datasets: kinds.map(function (k, i) {
                  return { label: k, data: data.recovery.months.map(function (m) { return money(m[k]); }), backgroundColor: palette[i] };
                }) },
        options: { scales: axes } };
    },
    days: function () {
      var rows = data.days.by_month;
      return { type: "line",
        data: { labels: rows.map(function (r) { return r.key; }),
                datasets: [
                  { label: "median days", data: rows.map(function (r) { return r.median_days; }), borderColor: palette[0], backgroundColor: palette[0] },
                  { label: "90th percentile days", data: rows.map(function (r) { return r.p90_days; }), borderColor: palette[1], backgroundColor: palette[1] }
                ] },
        options: { scales: axes, spanGaps: true } };
    },
    rates: function () {
      var rows = data.rates.by_payer;
      var num = function (v) { return v === null ? null : Number(v); };
      return { type: "bar",
        data: { labels: rows.map(function (r) { return r.payer_id; }),
                datasets: [
                  { label: "credits per 1,000 claims", data: rows.map(function (r) { return num(r.credits_per_1000_claims); }), backgroundColor: palette[0] },
                  { label: "credit $ per $1,000 paid", data: rows.map(function (r) { return num(r.credit_dollars_per_1000_paid); }), backgroundColor: palette[1] }
                ] },
        options: { scales: axes } };
    },
    trend: function () {
      var months = data.trend.months;
      var causes = [];
      data.trend.cells.forEach(function (c) { if (causes.indexOf(c.root_cause) < 0) { causes.push(c.root_cause); } });
      causes.sort();
      return { type: "bar",
        data: { labels: months,
                datasets: causes.map(function (rc, i) {
                  return { label: rc, backgroundColor: palette[i % palette.length],
                           data: months.map(function (m) {
                             var hit = data.trend.cells.filter(function (c) { return c.month === m && c.root_cause === rc; });
                             return hit.length ? money(hit[0].amount) : 0;
                           }) };
                }) },
        options: { scales: { x: { stacked: true, ticks: axes.x.ticks }, y: { stacked: true, beginAtZero: true } } } };
    }
  };

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var build = builders[canvas.getAttribute("data-chart")];
    if (!build) { return; }
    new Chart(canvas, build());
    canvas.setAttribute("data-rendered", "true");
  });
})();
