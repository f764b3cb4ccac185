// Job page: polls the job and its metrics (JSON, with the session cookie) and draws
// SVG line charts in plain JS. No inline script or style: the page's CSP forbids both.
(function () {
  "use strict";

  var root = document.getElementById("job");
  if (!root) return;
  var jobId = root.dataset.jobId;
  var kind = root.dataset.kind;
  // The metrics that matter for this kind are drawn first; the rest under "More metrics".
  var keyNames = (root.dataset.keyMetrics || "").split(",").filter(Boolean);
  var LOG_LINES = 30;
  var SVG = "http://www.w3.org/2000/svg";
  var FINISHED = ["succeeded", "failed", "cancelled"];
  var POLL_MS = 2000;
  var W = 360, H = 200, PAD = { left: 52, right: 12, top: 12, bottom: 28 };

  var points = {}; // step -> values, merged as steps arrive (a resumed job may log one again)
  var samples = [];
  var lastStep = null;
  var firstLoad = true; // the server rendered the log up to now

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error(url + ": " + r.status);
        return r.json();
      });
  }

  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function extent(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (lo === hi) { lo -= 0.5; hi += 0.5; }
    return [lo, hi];
  }

  // A chart of y against x; xs and ys have equal length, nulls are gaps.
  function chart(title, xs, ys, xLabel, asLine) {
    var pairs = [];
    for (var i = 0; i < xs.length; i++) {
      if (ys[i] !== null && isFinite(ys[i]) && isFinite(xs[i])) pairs.push([xs[i], ys[i]]);
    }
    var figure = document.createElement("figure");
    figure.className = "chart";
    var caption = document.createElement("figcaption");
    var last = pairs.length ? pairs[pairs.length - 1][1] : null;
    caption.textContent = title + (last !== null ? " (latest " + fmt(last) + ")" : "");
    figure.appendChild(caption);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title });
    figure.appendChild(svg);
    if (!pairs.length) return figure;
    var xr = extent(pairs.map(function (p) { return p[0]; }));
    var yr = extent(pairs.map(function (p) { return p[1]; }));
    function sx(x) { return PAD.left + (x - xr[0]) / (xr[1] - xr[0]) * (W - PAD.left - PAD.right); }
    function sy(y) { return H - PAD.bottom - (y - yr[0]) / (yr[1] - yr[0]) * (H - PAD.top - PAD.bottom); }
    svg.appendChild(el("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, "class": "axis" }));
    svg.appendChild(el("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, "class": "axis" }));
    svg.appendChild(el("text", { x: PAD.left - 4, y: PAD.top + 4, "text-anchor": "end", "class": "tick" }, fmt(yr[1])));
    svg.appendChild(el("text", { x: PAD.left - 4, y: H - PAD.bottom, "text-anchor": "end", "class": "tick" }, fmt(yr[0])));
    svg.appendChild(el("text", { x: PAD.left, y: H - 8, "text-anchor": "start", "class": "tick" }, fmt(xr[0])));
    svg.appendChild(el("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end", "class": "tick" }, fmt(xr[1])));
    svg.appendChild(el("text", { x: (W + PAD.left) / 2, y: H - 8, "text-anchor": "middle", "class": "tick" }, xLabel));
    if (asLine) {
      var d = pairs.map(function (p) { return sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join(" ");
      svg.appendChild(el("polyline", { points: d, "class": "series" }));
    }
    if (!asLine || pairs.length === 1) {
      pairs.forEach(function (p) {
        svg.appendChild(el("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 3, "class": "dot" }));
      });
    }
    return figure;
  }

  function metricChart(name, steps) {
    var ys = steps.map(function (s) { var v = points[s][name]; return v === undefined ? null : v; });
    return chart(name, steps, ys, "step", true);
  }

  function showKeyValues(metrics) {
    keyNames.forEach(function (name) {
      var cell = document.getElementById("key-" + name.replace(/\//g, "-"));
      if (cell && metrics && metrics[name] !== undefined) cell.textContent = fmt(metrics[name]);
    });
  }

  function appendLog(newPoints) {
    var log = document.getElementById("job-log");
    if (!log || !newPoints.length) return;
    var lines = log.textContent.split("\n");
    newPoints.forEach(function (p) {
      var parts = Object.keys(p.values).sort().filter(function (k) { return p.values[k] !== null; })
        .map(function (k) { return k + "=" + fmt(p.values[k]); });
      var step = String(p.step);
      while (step.length < 6) step = " " + step;
      lines.push("step " + step + "  " + parts.join(" "));
    });
    var head = lines.filter(function (l) { return l.indexOf("step ") !== 0 && l.indexOf("... ") !== 0; });
    var steps = lines.filter(function (l) { return l.indexOf("step ") === 0; }).slice(-LOG_LINES);
    log.textContent = head.slice(0, 2).concat(steps, head.slice(2)).join("\n");
    log.scrollTop = log.scrollHeight;
  }

  function drawCharts() {
    var steps = Object.keys(points).map(Number).sort(function (a, b) { return a - b; });
    var names = [];
    steps.forEach(function (s) {
      Object.keys(points[s]).forEach(function (k) { if (names.indexOf(k) < 0) names.push(k); });
    });
    var box = document.getElementById("charts");
    var more = document.getElementById("more-charts");
    box.replaceChildren();
    if (more) more.replaceChildren();
    document.getElementById("charts-empty").hidden = steps.length > 0;
    var first = keyNames.filter(function (n) { return names.indexOf(n) >= 0; });
    var rest = names.filter(function (n) { return first.indexOf(n) < 0; }).sort();
    // Without key metrics for this kind, everything is drawn in the main grid.
    if (!first.length || !more) { first = first.concat(rest); rest = []; }
    first.forEach(function (name) { box.appendChild(metricChart(name, steps)); });
    rest.forEach(function (name) { more.appendChild(metricChart(name, steps)); });
    if (more) document.getElementById("more-metrics").hidden = rest.length === 0;
    var frontier = document.getElementById("frontier");
    if (frontier) {
      var xs = [], ys = [];
      steps.forEach(function (s) {
        var kl = points[s]["objective/kl"], score = points[s]["objective/scores"];
        if (kl !== undefined && kl !== null && score !== undefined && score !== null) {
          xs.push(Math.sqrt(Math.max(kl, 0)));
          ys.push(score);
        }
      });
      frontier.replaceChildren(chart("score", xs, ys, "√KL", false));
    }
  }

  function drawSamples() {
    var body = document.getElementById("samples");
    if (!body) return;
    body.replaceChildren();
    samples.slice(-40).reverse().forEach(function (s) {
      var tr = document.createElement("tr");
      [String(s.step), s.prompt, s.response, fmt(s.score)].forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i === 1 || i === 2) td.className = "sample-text";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function showJob(job) {
    var status = document.getElementById("job-status");
    status.textContent = job.status;
    status.className = "status status-" + job.status;
    var bar = document.getElementById("job-progress");
    bar.value = job.progress;
    bar.textContent = Math.round(job.progress * 100) + "%";
    document.getElementById("job-progress-text").textContent = Math.round(job.progress * 100) + "%";
    document.getElementById("job-attempts").textContent = String(job.attempts);
    var error = document.getElementById("job-error");
    error.textContent = job.error || "";
    error.hidden = !job.error;
    if (job.model_version_id) {
      var cell = document.getElementById("job-version");
      if (!cell.querySelector("a")) {
        var a = document.createElement("a");
        a.href = "/models#version-" + job.model_version_id;
        a.textContent = "#" + job.model_version_id;
        cell.replaceChildren(a);
      }
    }
    var cancel = document.getElementById("cancel-form");
    if (cancel && FINISHED.indexOf(job.status) >= 0) cancel.hidden = true;
  }

  function refresh() {
    var metricsUrl = "/api/v1/jobs/" + jobId + "/metrics" + (lastStep === null ? "" : "?after_step=" + lastStep);
    return Promise.all([getJson("/api/v1/jobs/" + jobId), getJson(metricsUrl)]).then(function (res) {
      var job = res[0], data = res[1];
      data.points.forEach(function (p) {
        points[p.step] = Object.assign(points[p.step] || {}, p.values);
        if (lastStep === null || p.step > lastStep) lastStep = p.step;
      });
      samples = samples.concat(data.samples);
      showJob(job);
      showKeyValues(job.metrics);
      if (!firstLoad) appendLog(data.points);
      firstLoad = false;
      if (data.points.length || lastStep === null) drawCharts();
      if (data.samples.length) drawSamples();
      return FINISHED.indexOf(job.status) < 0;
    });
  }

  function loop() {
    refresh().then(function (running) {
      if (running) setTimeout(loop, POLL_MS);
    }, function () {
      setTimeout(loop, POLL_MS * 3); // the server may be restarting; try again later
    });
  }

  loop();
})();
