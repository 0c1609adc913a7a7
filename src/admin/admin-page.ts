/**
 * The admin page: one self-contained HTML document (inline CSS and JS, no
 * external assets, so it works offline and behind any proxy) that reads
 * `api/state` every second and draws it. Everything from the state is put
 * in with `textContent`: paths and hosts come from clients.
 */
export const ADMIN_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgegate admin</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --bar:#3b82f6;
          --ok:#15803d; --okbg:#dcfce7; --warn:#b45309; --warnbg:#fef3c7; --bad:#b91c1c; --badbg:#fee2e2; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; gap:12px; padding:14px 24px; background:#111827; color:#fff; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header .meta { margin-left:auto; color:#cbd5e1; font-size:12px; }
  main { display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:16px; padding:16px 24px; }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 16px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size:14px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:0 0 8px; }
  h3 { font-size:15px; margin:10px 0 6px; display:flex; gap:8px; align-items:center; }
  h3 .sub { font-weight:400; color:var(--muted); font-size:12px; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--muted); font-weight:500; font-size:12px; }
  td.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
  code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
  .endpoint { display:grid; grid-template-columns: 170px 90px minmax(0,1fr) 80px 70px; gap:8px; align-items:center; padding:3px 0; }
  .track { background:#eef1f6; border-radius:4px; height:16px; overflow:hidden; }
  .fill { background:var(--bar); height:100%; border-radius:4px; transition: width .4s ease; min-width:0; }
  .badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; text-align:center; }
  .healthy, .ready { color:var(--ok); background:var(--okbg); }
  .unhealthy, .expired, .error { color:var(--bad); background:var(--badbg); }
  .ejected, .syncing, .soon { color:var(--warn); background:var(--warnbg); }
  .muted { color:var(--muted); }
  .empty { color:var(--muted); font-style:italic; padding:6px 0; }
</style>
</head>
<body>
<header>
  <h1>edgegate</h1>
  <span id="ready" class="badge syncing">…</span>
  <span class="meta" id="meta">loading…</span>
</header>
<main>
  <section class="wide" id="backends-section"><h2>Backends</h2><div id="backends"></div></section>
  <section id="routes-section"><h2>Routes</h2><div id="routes"></div></section>
  <section id="certificates-section"><h2>Certificates</h2><div id="certificates"></div></section>
  <section class="wide" id="errors-section"><h2>Recent errors</h2><div id="errors"></div></section>
</main>
<script>
"use strict";
function el(tag, attrs, children) {
  var node = document.createElement(tag);
  for (var k in attrs || {}) {
    if (k === "text") node.textContent = attrs[k];
    else if (k === "style") node.style.cssText = attrs[k];
    else node.setAttribute(k, attrs[k]);
  }
  (children || []).forEach(function (c) { if (c) node.appendChild(c); });
  return node;
}
function empty(text) { return el("div", { class: "empty", text: text }); }
function table(headers, rows) {
  return el("table", {}, [
    el("thead", {}, [el("tr", {}, headers.map(function (h) { return el("th", { text: h }); }))]),
    el("tbody", {}, rows),
  ]);
}
function time(ms) { return new Date(ms).toLocaleTimeString(); }
function replace(id, nodes) {
  var target = document.getElementById(id);
  target.replaceChildren.apply(target, nodes);
}

function drawBackends(state) {
  var max = 1;
  state.backends.forEach(function (b) { b.endpoints.forEach(function (e) { max = Math.max(max, e.callsPerSecond); }); });
  // Bars share one scale, the busiest endpoint rounded up to 1, 2 or 5 times a power of ten.
  var unit = Math.pow(10, Math.floor(Math.log10(max)));
  max = [1, 2, 5, 10].map(function (m) { return m * unit; }).filter(function (v) { return v >= max; })[0];
  replace("backends", state.backends.length === 0 ? [empty("no backends")] : state.backends.map(function (b) {
    var head = el("h3", {}, [
      el("span", { class: "backend-name", text: b.name }),
      el("span", { class: "sub", text: b.balancer + " · " + b.discovery + " · " + b.endpoints.length + " endpoint" + (b.endpoints.length === 1 ? "" : "s") }),
      b.synced ? null : el("span", { class: "badge syncing", text: "syncing" }),
    ]);
    var rows = b.endpoints.length === 0 ? [empty("no endpoints")] : b.endpoints.map(function (e) {
      var pct = Math.max(0, Math.min(100, (e.callsPerSecond / max) * 100));
      return el("div", { class: "endpoint", "data-endpoint": e.address }, [
        el("span", { class: "mono address", text: e.address }),
        el("span", { class: "badge state " + e.state, text: e.state }),
        el("div", { class: "track" }, [el("div", { class: "fill", style: "width:" + pct.toFixed(1) + "%" })]),
        el("span", { class: "num rate", "data-rate": String(e.callsPerSecond), text: e.callsPerSecond.toFixed(1) + "/s" }),
        el("span", { class: "num muted", text: e.inFlight + " in flight" }),
      ]);
    });
    return el("div", { class: "backend", "data-backend": b.name }, [head].concat(rows));
  }));
}

function drawRoutes(state) {
  replace("routes", state.routes.length === 0 ? [empty("no routes")] : [table(["route", "hosts", "services", "backend"],
    state.routes.map(function (r) {
      var services = r.services ? r.services.join(", ") : "*";
      if (r.methods) services += " (" + r.methods.join(", ") + ")";
      return el("tr", {}, [
        el("td", { class: "muted", text: r.source }),
        el("td", { class: "mono", text: r.hosts ? r.hosts.join(", ") : "*" }),
        el("td", { class: "mono", text: services }),
        el("td", { class: "mono", text: "→ " + r.backend }),
      ]);
    }))]);
}

function drawCertificates(state) {
  replace("certificates", state.certificates.length === 0 ? [empty("no certificates")] : [table(["names", "expires", "days left"],
    state.certificates.map(function (c) {
      var cls = c.daysLeft < 0 ? "expired" : c.daysLeft < 14 ? "soon" : "healthy";
      return el("tr", { title: c.key }, [
        el("td", { class: "mono", text: c.names.join(", ") }),
        el("td", { text: new Date(c.notAfter).toISOString().slice(0, 10) }),
        el("td", {}, [el("span", { class: "badge " + cls, text: c.daysLeft < 0 ? "expired" : c.daysLeft + " d" })]),
      ]);
    }))]);
}

function drawErrors(state) {
  replace("errors", state.errors.length === 0 ? [empty("no errors")] : [table(["time", "code", "path", "host", "backend", "endpoint"],
    state.errors.map(function (e) {
      return el("tr", { class: "error-row" }, [
        el("td", { class: "num", text: time(e.at) }),
        el("td", {}, [el("span", { class: "badge error", text: e.code })]),
        el("td", { class: "mono", text: e.path }),
        el("td", { class: "mono", text: e.host }),
        el("td", { class: "mono", text: e.backend || "—" }),
        el("td", { class: "mono", text: e.endpoint || "—" }),
      ]);
    }))]);
}

function draw(state) {
  var ready = document.getElementById("ready");
  ready.textContent = state.ready ? "ready" : "not ready";
  ready.className = "badge " + (state.ready ? "ready" : "syncing");
  document.getElementById("meta").textContent =
    "calls/s over the last " + state.windowSeconds + " s · updated " + time(state.now);
  drawBackends(state);
  drawRoutes(state);
  drawCertificates(state);
  drawErrors(state);
}

function refresh() {
  fetch("api/state", { cache: "no-store" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(draw)
    .catch(function (e) { document.getElementById("meta").textContent = "cannot read state: " + e.message; })
    .finally(function () { setTimeout(refresh, 1000); });
}
refresh();
</script>
</body>
</html>
`;
