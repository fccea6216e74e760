"""The report as one self-contained HTML file: inline CSS, inline JavaScript, no network.

The page carries the report's JSON data (the same keys as ``--format json``) in a
``<script type="application/json">`` element and draws it with a small script written
for aimon (no third-party library): KPI cards with sparklines, SVG bar and line
charts with a hover read-out and legend toggles, and sortable tables. Every value
from the data is set as text (``textContent``), never parsed as HTML, so a model or
endpoint name cannot inject markup.
"""

from __future__ import annotations

import html
import json
from typing import Any

from aimon import __version__

CSS = r"""
:root { --fg:#1f2430; --muted:#6b7280; --line:#e5e7eb; --bg:#f7f8fa; --card:#fff;
        --good:#0a7d32; --bad:#c0262d; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#111827; color:#fff; padding:18px 28px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header p { margin:0; color:#cbd5e1; font-size:13px; }
main { padding:18px 28px 40px; max-width:1400px; margin:0 auto; }
h2 { font-size:17px; margin:26px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:14px; margin:0 0 8px; }
.findings { display:grid; grid-template-columns:repeat(auto-fit, minmax(280px, 1fr)); gap:12px; }
.finding { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.finding ul { margin:0; padding-left:18px; } .finding li { margin:3px 0; }
.finding.highlights { border-top:4px solid var(--good); }
.finding.concerns { border-top:4px solid var(--bad); }
.finding.recommendations { border-top:4px solid var(--accent); }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(210px, 1fr)); gap:10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .label { color:var(--muted); font-size:12px; }
.card .value { font-size:21px; font-weight:600; margin:2px 0; }
.card .ci { color:var(--muted); font-size:11px; }
.card .deltas { display:flex; gap:6px; flex-wrap:wrap; font-size:11px; margin-top:4px; }
.chip { border-radius:10px; padding:1px 7px; background:#eef0f3; color:var(--muted); }
.chip.good { background:#e3f5e9; color:var(--good); } .chip.bad { background:#fbe4e5; color:var(--bad); }
.spark { display:block; margin-top:6px; }
.charts { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:12px; margin-top:12px; }
.chart { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px;
         position:relative; }
.chart svg { display:block; width:100%; height:230px; }
.legend { display:flex; gap:10px; flex-wrap:wrap; font-size:12px; margin-top:4px; }
.legend button { border:1px solid var(--line); background:#fff; border-radius:12px; padding:1px 9px;
                 cursor:pointer; font:inherit; }
.legend button.off { opacity:.4; text-decoration:line-through; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:5px; }
.tip { position:absolute; pointer-events:none; background:rgba(17,24,39,.92); color:#fff; font-size:12px;
       padding:6px 8px; border-radius:6px; white-space:nowrap; display:none; z-index:2; }
.tables { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:12px; margin-top:12px; }
.tablebox { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px;
            overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:12.5px; }
th, td { padding:4px 8px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
th { cursor:pointer; user-select:none; color:var(--muted); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
.empty { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:24px; font-size:16px; }
.note { color:var(--muted); font-size:12px; margin-top:6px; }
footer { color:var(--muted); font-size:12px; padding:0 28px 24px; max-width:1400px; margin:0 auto; }
svg text { font-size:11px; fill:#6b7280; }
"""

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("aimon-data").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#2563eb", "#f59e0b", "#dc2626", "#059669", "#7c3aed", "#0891b2"];
  var DASH = "\u2014";

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
    return e;
  }
  function ok(v) { return v !== null && v !== undefined && isFinite(v); }
  function num(v, d) {
    return Number(v).toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
  }
  function money(v) {
    // aimon/render/units.py money()'s rule: cents from a dollar up, three significant
    // digits below (trailing zeros dropped, never fewer than cents, never an exponent).
    if (!ok(v)) return DASH;
    var a = Math.abs(v), sign = v < 0 ? "-" : "";
    if (a >= 1 || a === 0) return sign + "$" + num(a, 2);
    var parts = a.toFixed(Math.min(100, Math.max(2, 2 - Math.floor(Math.log10(a))))).split(".");
    var cents = parts[1].replace(/0+$/, "");
    while (cents.length < 2) cents += "0";
    return sign + "$" + parts[0] + "." + cents;
  }
  function fmt(unit, v) {
    if (unit === "time") return v ? when(v) : DASH;
    if (!ok(v)) return DASH;
    switch (unit) {
      case "count": return num(v, 0);
      case "rate": return (v * 100).toFixed(v >= 0.001 || v === 0 ? 1 : 2) + "%";
      case "ms": return num(v, 0) + " ms";
      case "usd": return money(v);
      case "usd_per_hour": return money(v) + "/h";
      case "per_minute": return num(v, 1) + "/min";
      case "per_second": return num(v, 1) + " tok/s";
      case "tokens": return num(v, 0) + " tokens";
      case "dec1": return num(v, 1);
      case "score": return (v >= 0 ? "+" : "") + v.toFixed(2);
      case "ratio": return num(v, 1) + " : 1";
      default: return num(v, 2);
    }
  }
  function change(f, diff, pct) {
    var pp = f.unit === "rate" || f.unit === "score", x = pp ? diff : pct;
    if (!ok(x)) return null;
    var shown = (x * 100).toFixed(1);
    if (Number(shown) === 0) return {v: 0, text: "0.0" + (pp ? " pp" : "%")};
    return {v: x, text: (x > 0 ? "+" : "") + shown + (pp ? " pp" : "%")};
  }

  function sparkSvg(values) {
    var w = 180, h = 30, pts = [];
    var present = values.filter(ok);
    var svg = sv("svg", {"class": "spark", width: w, height: h, viewBox: "0 0 " + w + " " + h});
    if (present.length < 2) return svg;
    var lo = Math.min.apply(null, present), hi = Math.max.apply(null, present), span = hi - lo || 1;
    values.forEach(function (v, i) {
      if (!ok(v)) return;
      pts.push([(i / (values.length - 1)) * (w - 6) + 3, h - 4 - ((v - lo) / span) * (h - 8)]);
    });
    svg.appendChild(sv("polyline", {points: pts.map(function (p) { return p.join(","); }).join(" "),
                                     fill: "none", stroke: "#94a3b8", "stroke-width": 1.5}));
    var last = pts[pts.length - 1];
    svg.appendChild(sv("circle", {cx: last[0], cy: last[1], r: 2.5, fill: "#2563eb"}));
    return svg;
  }

  function card(name) {
    var f = D.figures[name], c = el("div", {"class": "card", "data-figure": name});
    c.appendChild(el("div", {"class": "label"}, f.label));
    c.appendChild(el("div", {"class": "value"}, fmt(f.unit, f.value)));
    if (ok(f.low) && ok(f.high)) c.appendChild(el("div", {"class": "ci"}, "95% CI " + fmt(f.unit, f.low) + " to " + fmt(f.unit, f.high)));
    var deltas = el("div", {"class": "deltas"});
    [["previous", f.change_previous, f.change_previous_pct, D.kind === "daily" ? "vs yesterday" : "vs last week"],
     ["baseline", f.change_baseline, f.change_baseline_pct, D.kind === "daily" ? "vs 7-day" : "vs 4-week"]]
      .forEach(function (d) {
        var ch = change(f, d[1], d[2]);
        var cls = "chip";
        if (ch && f.better && ch.v !== 0) cls += ((ch.v > 0) === (f.better === "up")) ? " good" : " bad";
        deltas.appendChild(el("span", {"class": cls, title: d[3] + " (" + fmt(f.unit, f[d[0]]) + ")"},
                              (ch ? ch.text : DASH) + " " + d[3]));
      });
    c.appendChild(deltas);
    c.appendChild(sparkSvg(f.history));
    return c;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  }

  // A bar/line chart with a hover read-out and legend toggles.
  function chart(parent, spec) {
    var box = el("div", {"class": "chart", "data-chart": spec.id});
    box.appendChild(el("h3", {}, spec.title));
    var svg = sv("svg", {role: "img", "aria-label": spec.title});
    box.appendChild(svg);
    var legend = el("div", {"class": "legend"});
    box.appendChild(legend);
    var tip = el("div", {"class": "tip"});
    box.appendChild(tip);
    parent.appendChild(box);
    var hidden = {};
    spec.series.forEach(function (s, i) {
      s.color = s.color || COLORS[i % COLORS.length];
      var b = el("button", {type: "button"});
      var sw = el("i"); sw.style.background = s.color; b.appendChild(sw);
      b.appendChild(document.createTextNode(s.name));
      b.addEventListener("click", function () {
        hidden[s.name] = !hidden[s.name]; b.classList.toggle("off", !!hidden[s.name]); draw();
      });
      legend.appendChild(b);
    });

    function draw() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      var W = svg.clientWidth || 600, H = svg.clientHeight || 230;
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      var m = {l: 62, r: 10, t: 10, b: 24}, iw = W - m.l - m.r, ih = H - m.t - m.b;
      var n = spec.labels.length, shown = spec.series.filter(function (s) { return !hidden[s.name]; });
      var max = 0;
      shown.forEach(function (s) { s.values.forEach(function (v) { if (ok(v) && v > max) max = v; }); });
      max = niceMax(max);
      var band = iw / Math.max(n, 1);
      function x(i) { return m.l + band * (i + 0.5); }
      function y(v) { return m.t + ih - (v / max) * ih; }
      for (var t = 0; t <= 4; t++) {
        var tv = max * t / 4, ty = y(tv);
        svg.appendChild(sv("line", {x1: m.l, x2: W - m.r, y1: ty, y2: ty, stroke: "#e5e7eb"}));
        var tl = sv("text", {x: m.l - 6, y: ty + 4, "text-anchor": "end"});
        tl.textContent = fmt(spec.unit, tv); svg.appendChild(tl);
      }
      var every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(iw / 46))));
      spec.labels.forEach(function (lab, i) {
        if (i % every) return;
        var xl = sv("text", {x: x(i), y: H - 6, "text-anchor": "middle"});
        xl.textContent = lab; svg.appendChild(xl);
      });
      var bars = shown.filter(function (s) { return s.kind === "bar"; });
      bars.forEach(function (s, k) {
        var bw = band * 0.8 / bars.length;
        s.values.forEach(function (v, i) {
          if (!ok(v) || v <= 0) return;
          svg.appendChild(sv("rect", {"class": "series-bar", x: x(i) - band * 0.4 + k * bw, y: y(v),
                                      width: Math.max(bw - 1, 1), height: m.t + ih - y(v), fill: s.color}));
        });
      });
      shown.filter(function (s) { return s.kind !== "bar"; }).forEach(function (s) {
        var d = "", pen = false;
        s.values.forEach(function (v, i) {
          if (!ok(v)) { pen = false; return; }
          d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " "; pen = true;
        });
        svg.appendChild(sv("path", {"class": "series-line", d: d, fill: "none", stroke: s.color,
                                    "stroke-width": 2, "stroke-linejoin": "round"}));
        s.values.forEach(function (v, i) {
          if (ok(v) && (n < 40)) svg.appendChild(sv("circle", {cx: x(i), cy: y(v), r: 2.2, fill: s.color}));
        });
      });
      var cross = sv("line", {y1: m.t, y2: m.t + ih, stroke: "#9ca3af", "stroke-dasharray": "3 3",
                              visibility: "hidden"});
      svg.appendChild(cross);
      var hit = sv("rect", {x: m.l, y: m.t, width: iw, height: ih, fill: "transparent"});
      svg.appendChild(hit);
      hit.addEventListener("mousemove", function (ev) {
        var r = svg.getBoundingClientRect(), px = (ev.clientX - r.left) * (W / r.width);
        var i = Math.min(n - 1, Math.max(0, Math.floor((px - m.l) / band)));
        cross.setAttribute("x1", x(i)); cross.setAttribute("x2", x(i)); cross.setAttribute("visibility", "visible");
        while (tip.firstChild) tip.removeChild(tip.firstChild);
        tip.appendChild(el("div", {style: "font-weight:600"}, spec.labels[i]));
        shown.forEach(function (s) { tip.appendChild(el("div", {}, s.name + ": " + fmt(spec.unit, s.values[i]))); });
        tip.style.display = "block";
        var left = (x(i) / W) * r.width + 14;
        if (left + tip.offsetWidth > box.clientWidth) left -= tip.offsetWidth + 28;
        tip.style.left = left + "px"; tip.style.top = "40px";
      });
      hit.addEventListener("mouseleave", function () {
        tip.style.display = "none"; cross.setAttribute("visibility", "hidden");
      });
    }
    draw();
    window.addEventListener("resize", draw);
  }

  function costText(r) {
    if (!r.unpriced_requests) return money(ok(r.cost_usd) ? r.cost_usd : 0);
    return (ok(r.cost_usd) ? money(r.cost_usd) : "unknown") + " + " + num(r.unpriced_requests, 0) + " unpriced";
  }
  function withCost(rows) {
    return (rows || []).map(function (r) { var o = {}; for (var k in r) o[k] = r[k]; o.cost = costText(r); return o; });
  }

  function table(parent, title, rows, columns) {
    if (!rows || !rows.length) return;
    var box = el("div", {"class": "tablebox"});
    box.appendChild(el("h3", {}, title));
    var t = el("table"), thead = el("thead"), hr = el("tr"), tbody = el("tbody");
    var dir = {};
    columns.forEach(function (c) {
      var th = el("th", {"class": c.unit && c.unit !== "text" ? "num" : ""}, c.label);
      th.addEventListener("click", function () {
        dir[c.key] = -(dir[c.key] || -1);
        rows.sort(function (a, b) {
          var x = a[c.key], y = b[c.key];
          if (x === y) return 0; if (x === null) return 1; if (y === null) return -1;
          return (x < y ? -1 : 1) * dir[c.key];
        });
        fill();
      });
      hr.appendChild(th);
    });
    thead.appendChild(hr); t.appendChild(thead); t.appendChild(tbody);
    function fill() {
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      rows.forEach(function (r) {
        var tr = el("tr");
        columns.forEach(function (c) {
          var v = r[c.key];
          tr.appendChild(el("td", {"class": c.unit && c.unit !== "text" ? "num" : ""},
                            c.unit && c.unit !== "text" ? fmt(c.unit, v) : (v === null ? DASH : v)));
        });
        tbody.appendChild(tr);
      });
    }
    fill();
    box.appendChild(t);
    parent.appendChild(box);
  }

  function when(iso) {
    // A UTC instant shown in the report's zone.
    try {
      return new Date(iso).toLocaleString("en-CA", {timeZone: D.tz, year: "numeric", month: "2-digit",
        day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false}).replace(",", "");
    } catch (e) { return iso.slice(0, 16).replace("T", " "); }
  }
  function localLabel(iso) {
    // ISO text in UTC; show the hour in the report's zone as given by the data.
    var d = new Date(iso);
    try {
      return d.toLocaleString("en-GB", {timeZone: D.tz, hour: "2-digit", minute: "2-digit",
                                        weekday: D.series.bucket_hours > 1 ? "short" : undefined});
    } catch (e) { return iso.slice(11, 16); }
  }

  var root = document.getElementById("report");
  if (!D.has_data) {
    root.appendChild(el("div", {"class": "empty"}, D.message));
    return;
  }
  var fd = el("div", {"class": "findings"});
  [["highlights", "Highlights"], ["concerns", "Concerns"], ["recommendations", "Recommendations"]].forEach(function (k) {
    var b = el("div", {"class": "finding " + k[0]});
    b.appendChild(el("h3", {}, k[1]));
    var ul = el("ul");
    (D[k[0]].length ? D[k[0]] : [{text: "none"}]).forEach(function (f) { ul.appendChild(el("li", {}, f.text)); });
    b.appendChild(ul); fd.appendChild(b);
  });
  root.appendChild(fd);

  var rows = D.series.rows, labels = rows.map(function (r) { return localLabel(r.start); });
  function col(k) { return rows.map(function (r) { return r[k]; }); }
  var per = D.series.bucket_hours === 1 ? "hour" : D.series.bucket_hours + " hours";
  var sections = {
    overview: [
      {id: "requests", title: "Requests per " + per, unit: "count", series: [{name: "requests", kind: "bar", values: col("requests")}]},
      {id: "error_rate", title: "Error rate per " + per, unit: "rate", series: [{name: "error rate", values: col("error_rate"), color: "#dc2626"}]}
    ],
    cost: [
      {id: "cost", title: "Cost per " + per + " (priced requests)", unit: "usd", series: [{name: "cost", kind: "bar", values: col("cost_usd"), color: "#059669"}]}
    ],
    performance: [
      {id: "latency", title: "Latency per " + per, unit: "ms", series: [
        {name: "P50", values: col("latency_p50_ms")}, {name: "P95", values: col("latency_p95_ms")},
        {name: "P99", values: col("latency_p99_ms")}]},
      {id: "tokens_per_s", title: "Output tokens per second", unit: "per_second", series: [{name: "tokens/s", values: col("tokens_per_s"), color: "#7c3aed"}]},
      {id: "cache_hit_rate", title: "Cache hit rate", unit: "rate", series: [{name: "cache hit rate", values: col("cache_hit_rate"), color: "#0891b2"}]}
    ]
  };
  var titles = {overview: "Overview", quality: "Quality", cost: "Cost", performance: "Performance"};
  Object.keys(titles).forEach(function (panel) {
    var sec = el("section", {id: panel});
    sec.appendChild(el("h2", {}, titles[panel]));
    var cards = el("div", {"class": "cards"});
    D.panels[panel].forEach(function (name) { cards.appendChild(card(name)); });
    sec.appendChild(cards);
    root.appendChild(sec);
    if (sections[panel]) {
      var charts = el("div", {"class": "charts"});
      sec.appendChild(charts);
      sections[panel].forEach(function (spec) { spec.labels = labels; chart(charts, spec); });
    }
    var tables = el("div", {"class": "tables"});
    sec.appendChild(tables);
    if (panel === "quality") {
      table(tables, "Top errors", D.top_errors, [
        {key: "error_type", label: "error type"}, {key: "errors", label: "errors", unit: "count"},
        {key: "share", label: "share of errors", unit: "rate"}, {key: "rate", label: "per request", unit: "rate"},
        {key: "previous_errors", label: "previous period", unit: "count"}]);
      table(tables, "Reports by category", D.report_categories, [
        {key: "category", label: "category"}, {key: "reports", label: "reports", unit: "count"},
        {key: "report_rate", label: "rate", unit: "rate"}, {key: "report_rate_low", label: "95% low", unit: "rate"},
        {key: "report_rate_high", label: "95% high", unit: "rate"}]);
      if (!D.votes) sec.appendChild(el("p", {"class": "note"}, "No thumbs up or down on these requests."));
    }
    if (panel === "cost") {
      var c = D.cost;
      table(tables, "Spend", [
        {k: "logged by the source", v: money(c.logged_usd)}, {k: "computed from prices", v: money(c.computed_usd)},
        {k: "requests without a price (spend unknown, not $0)", v: num(c.unpriced_requests, 0)},
        {k: "daily run rate (last 7 days)", v: money(c.daily_run_rate_usd)},
        {k: "projected " + c.month + " (" + c.days_in_month + " days at that rate)",
         v: money(c.projected_month_usd) + (c.unpriced_requests ? " + unpriced" : "")}],
        [{key: "k", label: "spend"}, {key: "v", label: "amount"}]);
      table(tables, "Cost by model", withCost(D.by_model), [
        {key: "model", label: "model"}, {key: "requests", label: "requests", unit: "count"},
        {key: "share", label: "share", unit: "rate"}, {key: "cost", label: "cost"}]);
      table(tables, "Most expensive endpoints", withCost(D.top_endpoints), [
        {key: "endpoint", label: "endpoint"}, {key: "requests", label: "requests", unit: "count"},
        {key: "cost", label: "cost"},
        {key: "cost_per_request_usd", label: "per priced request", unit: "usd"}]);
    }
    if (panel === "performance") {
      table(tables, "Model mix", D.by_model, [
        {key: "model", label: "model"}, {key: "share", label: "share", unit: "rate"},
        {key: "error_rate", label: "error rate", unit: "rate"}, {key: "latency_p95_ms", label: "P95", unit: "ms"},
        {key: "tokens_per_s", label: "tokens/s", unit: "dec1"}]);
      table(tables, "Endpoints", withCost(D.by_endpoint), [
        {key: "endpoint", label: "endpoint"}, {key: "requests", label: "requests", unit: "count"},
        {key: "error_rate", label: "error rate", unit: "rate"}, {key: "latency_p95_ms", label: "P95", unit: "ms"},
        {key: "cost", label: "cost"}]);
      table(tables, "Zero-traffic gaps", D.gaps, [
        {key: "gap_start", label: "from", unit: "time"}, {key: "gap_end", label: "to", unit: "time"},
        {key: "minutes", label: "minutes", unit: "count"},
        {key: "expected_requests", label: "requests expected", unit: "count"}]);
    }
  });
  document.body.setAttribute("data-rendered", "true");
})();
"""


# Inside <script>, "</script" ends the element and "<!--" switches the parser into the
# "escaped" state where a later "<script" swallows the rest of the page; no "<" at all
# (nor ">" or "&") means neither can occur. U+2028/2029 are escaped for older parsers.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _script_json(data: Any) -> str:
    """JSON for a <script type="application/json"> element that no value can end or
    break: the same data after JSON.parse."""
    return json.dumps(data, ensure_ascii=False).translate(_SCRIPT_SAFE)


def report_html(data: dict[str, Any]) -> str:
    """The whole page for a report's JSON data (``aimon.render.report.report_data``)."""
    title = html.escape(data["title"])
    period = data["period"]
    sub = (f"{period['label']} ({data['tz']}) · compared with {data['previous']['label']} and the "
           f"median of the {data['baseline']['periods']} {'days' if data['kind'] == 'daily' else 'weeks'} before"
           " · intervals are 95% (Wilson)")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{CSS}</style>
</head>
<body>
<header><h1>{title}</h1><p>{html.escape(sub)}</p></header>
<main id="report"><noscript>This report draws its charts with JavaScript; the numbers are in the
JSON data of this page and in <code>aimon report --format markdown</code>.</noscript></main>
<footer>Made by aimon {html.escape(__version__)} · self-contained: no network needed to view it.</footer>
<script id="aimon-data" type="application/json">{_script_json(data)}</script>
<script>{JS}</script>
</body>
</html>
"""
