/* kvtwist web interface: keeps the status and clients pages live by
 * polling the JSON API, and draws the status charts.  Pages work without
 * it.  Every value goes into the page through textContent or setAttribute,
 * never as HTML. */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var SVG = "http://www.w3.org/2000/svg";

  function lookup(obj, path) {
    return path.split(".").reduce(function (o, k) {
      return o === null || o === undefined ? o : o[k];
    }, obj);
  }

  function duration(seconds) {
    seconds = Math.floor(seconds);
    if (seconds < 60) return seconds + " s";
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m < 60) return m + " min" + (s ? " " + s + " s" : "");
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
    var d = Math.floor(h / 24);
    return d + " d" + (h % 24 ? " " + (h % 24) + " h" : "");
  }

  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB"];
    var i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return i === 0 ? n + " B" : n.toFixed(1) + " " + units[i];
  }

  /* A rate for people: one decimal below 10, else whole and grouped by
   * thousands (37,244, not 37243.9). */
  function rate(v) {
    v = Number(v);
    return Math.abs(v) < 10 ? v.toFixed(1)
      : Math.round(v).toLocaleString("en-US");
  }

  /* A short number for a chart's axis: 950, 37k, 1.2M. */
  function compact(v) {
    var units = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(v) >= units[i][0]) {
        var n = v / units[i][0];
        return (Math.abs(n) < 10 ? n.toFixed(1).replace(/\.0$/, "")
                                 : Math.round(n)) + units[i][1];
      }
    }
    return String(Math.round(v * 10) / 10);
  }

  var FORMATS = {
    number: function (v) { return Number(v).toLocaleString("en-US"); },
    rate: rate,
    bytes: bytes,
    duration: duration,
    text: function (v) { return String(v); }
  };

  function el(name, text, className) {
    var node = document.createElement(name);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svg(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, attrs[k]);
    });
    return node;
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin",
                       headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/login?next=" +
                                 encodeURIComponent(window.location.pathname));
          throw new Error("logged out");
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  function stamp(ok) {
    var node = document.getElementById("updated");
    if (!node) return;
    node.textContent = ok ? new Date().toLocaleTimeString()
                          : "failed: is the server running?";
    node.classList.toggle("stale", !ok);
  }

  function poll(url, update) {
    function tick() {
      getJSON(url).then(function (data) { update(data); stamp(true); },
                        function () { stamp(false); })
        .then(function () { window.setTimeout(tick, POLL_MS); });
    }
    tick();
  }

  /* -- status ----------------------------------------------------------- */

  function updateFields(data) {
    document.querySelectorAll("[data-field]").forEach(function (node) {
      var value = lookup(data, node.dataset.field);
      if (value === undefined || value === null) return;
      var format = FORMATS[node.dataset.format] || FORMATS.number;
      node.textContent = format(value);
    });
  }

  function updatePersistence(p) {
    var banner = document.getElementById("failure");
    if (banner) banner.hidden = !(p && p.failure);
    var body = document.getElementById("persistence");
    if (!body || !p) return;
    var rows = p.summary.map(function (pair) {
      var tr = el("tr");
      var th = el("th", pair[0]);
      th.scope = "row";
      tr.appendChild(th);
      tr.appendChild(el("td", pair[1]));
      return tr;
    });
    body.replaceChildren.apply(body, rows);
  }

  /* The smallest of 1, 2, 5 x 10^n at least v (a round top for an
   * axis). */
  function niceTop(v) {
    if (v <= 0) return 1;
    var step = Math.pow(10, Math.floor(Math.log(v) / Math.LN10));
    var tops = [1, 2, 5, 10];
    for (var i = 0; i < tops.length; i++) {
      if (tops[i] * step >= v) return tops[i] * step;
    }
    return 10 * step;
  }

  /* Draw one chart of the history into the element with id boxId:
   * spec.lines are polylines ({field, cls, area}), spec.bars are bars
   * ({field, cls}, side by side in each sample's slot), spec.label
   * formats the axis, spec.title says what it shows. */
  function drawChart(boxId, history, interval, windowSeconds, spec) {
    var box = document.getElementById(boxId);
    if (!box) return;
    var W = spec.width || 900, H = spec.height || 200;
    var left = spec.left || 44, right = 8, top = 10, bottom = 22;
    var plotW = W - left - right, plotH = H - top - bottom;
    var chart = svg("svg", {viewBox: "0 0 " + W + " " + H, role: "img"});
    var max = 0;
    history.forEach(function (s) {
      spec.lines.concat(spec.bars || []).forEach(function (series) {
        max = Math.max(max, Number(s[series.field]) || 0);
      });
    });
    // A round top, in the series' unit (MiB for memory).
    var unit = spec.unit || 1;
    max = niceTop(max * 1.1 / unit) * unit;
    var now = history.length ? history[history.length - 1].time : 0;
    // Show the history there is, at least a minute, at most the window.
    var first = history.length ? history[0].time : now;
    var span = Math.min(windowSeconds || 300, Math.max(60, now - first));
    function x(t) { return left + plotW * (1 - (now - t) / span); }
    function y(v) { return top + plotH * (1 - v / max); }

    [0, 0.5, 1].forEach(function (f) {
      var v = max * f;
      chart.appendChild(svg("line", {x1: left, x2: W - right, y1: y(v),
                                     y2: y(v), "class": "grid"}));
      var label = svg("text", {x: left - 6, y: y(v) + 4,
                               "text-anchor": "end", "class": "axis"});
      label.textContent = spec.label(v);
      chart.appendChild(label);
    });
    var start = svg("text", {x: left, y: H - 4, "class": "axis"});
    start.textContent = "-" + duration(span);
    var end = svg("text", {x: W - right, y: H - 4, "text-anchor": "end",
                           "class": "axis"});
    end.textContent = "now";
    chart.appendChild(start);
    chart.appendChild(end);

    var bars = spec.bars || [];
    var slot = Math.max(2, plotW * (interval || 2) / span * 0.8);
    var barW = slot / Math.max(1, bars.length);
    history.forEach(function (s) {
      bars.forEach(function (series, i) {
        var v = Number(s[series.field]) || 0;
        if (v > 0) {
          chart.appendChild(svg("rect", {
            x: x(s.time) - slot + i * barW, y: y(v), width: barW,
            height: y(0) - y(v), "class": series.cls}));
        }
      });
    });
    if (history.length) {
      spec.lines.forEach(function (series) {
        var points = history.map(function (s) {
          return x(s.time).toFixed(1) + "," +
            y(Number(s[series.field]) || 0).toFixed(1);
        });
        if (series.area) {
          chart.appendChild(svg("polygon", {
            points: x(first) + "," + y(0) + " " + points.join(" ") + " " +
                    x(now) + "," + y(0),
            "class": series.cls + "-area"}));
        }
        chart.appendChild(svg("polyline", {points: points.join(" "),
                                           "class": series.cls}));
      });
    }
    var title = svg("title", {});
    title.textContent = spec.title + ", over the last " + duration(span);
    chart.insertBefore(title, chart.firstChild);
    box.replaceChildren(chart);
  }

  function drawCharts(history, interval, windowSeconds) {
    drawChart("chart", history, interval, windowSeconds, {
      lines: [{field: "connected", cls: "connected", area: true}],
      bars: [{field: "disconnectsPerSecond", cls: "disconnects"},
             {field: "closedByServerDelta", cls: "closed"}],
      label: compact,
      title: "Connected clients, disconnects per second and clients " +
             "closed by the server per sample"});
    drawChart("chart-commands", history, interval, windowSeconds, {
      width: 440, height: 160,
      lines: [{field: "commandsPerSecond", cls: "commands", area: true}],
      label: compact, title: "Commands per second"});
    drawChart("chart-memory", history, interval, windowSeconds, {
      width: 440, height: 160, left: 64, unit: 1024 * 1024,
      lines: [{field: "memory", cls: "memory", area: true}],
      label: function (v) { return v ? bytes(v).replace(".0 ", " ") : "0"; },
      title: "Resident memory"});
  }

  function updateStatus(data) {
    updateFields(data);
    updatePersistence(data.persistence);
    drawCharts(data.history || [], data.sampleInterval, data.historyWindow);
  }

  /* -- clients ---------------------------------------------------------- */

  var CLIENT_FIELDS = ["id", "addr", "name", "dialect", "age", "idle",
                       "commands", "lastCommand"];

  function updateClients(data) {
    var body = document.getElementById("clients-body");
    if (!body) return;
    var rows = data.clients.map(function (c) {
      var tr = el("tr");
      CLIENT_FIELDS.forEach(function (f) {
        var v = (f === "age" || f === "idle") ? duration(c[f]) : c[f];
        tr.appendChild(el("td", v));
      });
      return tr;
    });
    body.replaceChildren.apply(body, rows);
    var count = document.getElementById("client-count");
    if (count) count.textContent = String(data.clients.length);
    var none = document.getElementById("no-clients");
    if (none) none.hidden = data.clients.length > 0;
  }

  /* -- key page: confirm before deleting ------------------------------- */

  function confirmDelete() {
    var form = document.getElementById("delete-form");
    if (!form) return;
    form.addEventListener("submit", function (event) {
      if (!window.confirm("Delete this key?")) event.preventDefault();
    });
  }

  var page = document.body.dataset.page;
  if (page === "status") poll("/api/status", updateStatus);
  else if (page === "clients") poll("/api/clients", updateClients);
  else if (page === "keys") confirmDelete();
})();
