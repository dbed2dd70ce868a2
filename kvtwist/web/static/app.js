/* kvtwist web interface: keeps the status and clients pages live by
 * polling the JSON API, and draws the clients chart.  Pages work without
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

  var FORMATS = {
    number: function (v) { return Number(v).toLocaleString("en-US"); },
    rate: function (v) { return Number(v).toFixed(1); },
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

  function drawChart(history, interval, windowSeconds) {
    var box = document.getElementById("chart");
    if (!box) return;
    var W = 900, H = 200, left = 34, right = 8, top = 10, bottom = 22;
    var plotW = W - left - right, plotH = H - top - bottom;
    var chart = svg("svg", {viewBox: "0 0 " + W + " " + H, role: "img"});
    var max = 1;
    history.forEach(function (s) {
      max = Math.max(max, s.connected, s.droppedDelta);
    });
    max = Math.ceil(max * 1.15);
    var now = history.length ? history[history.length - 1].time : 0;
    // Show the history there is, at least a minute, at most the window.
    var first = history.length ? history[0].time : now;
    var span = Math.min(windowSeconds || 300, Math.max(60, now - first));
    function x(t) { return left + plotW * (1 - (now - t) / span); }
    function y(v) { return top + plotH * (1 - v / max); }

    [0, 0.5, 1].forEach(function (f) {
      var v = Math.round(max * f);
      chart.appendChild(svg("line", {x1: left, x2: W - right, y1: y(v),
                                     y2: y(v), "class": "grid"}));
      var label = svg("text", {x: left - 6, y: y(v) + 4,
                               "text-anchor": "end", "class": "axis"});
      label.textContent = String(v);
      chart.appendChild(label);
    });
    var start = svg("text", {x: left, y: H - 4, "class": "axis"});
    start.textContent = "-" + duration(span);
    var end = svg("text", {x: W - right, y: H - 4, "text-anchor": "end",
                           "class": "axis"});
    end.textContent = "now";
    chart.appendChild(start);
    chart.appendChild(end);

    var barW = Math.max(2, plotW * (interval || 2) / span * 0.7);
    history.forEach(function (s) {
      if (s.droppedDelta > 0) {
        chart.appendChild(svg("rect", {
          x: x(s.time) - barW, y: y(s.droppedDelta), width: barW,
          height: y(0) - y(s.droppedDelta), "class": "dropped"}));
      }
    });
    if (history.length) {
      var last = now;
      var points = history.map(function (s) {
        return x(s.time).toFixed(1) + "," + y(s.connected).toFixed(1);
      });
      chart.appendChild(svg("polygon", {
        points: x(first) + "," + y(0) + " " + points.join(" ") + " " +
                x(last) + "," + y(0),
        "class": "connected-area"}));
      chart.appendChild(svg("polyline", {points: points.join(" "),
                                         "class": "connected"}));
    }
    var title = svg("title", {});
    title.textContent = "Connected clients, and clients dropped per " +
      (interval || "?") + " s sample, over the last " + duration(span);
    chart.insertBefore(title, chart.firstChild);
    box.replaceChildren(chart);
  }

  function updateStatus(data) {
    updateFields(data);
    updatePersistence(data.persistence);
    drawChart(data.history || [], data.sampleInterval, data.historyWindow);
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
