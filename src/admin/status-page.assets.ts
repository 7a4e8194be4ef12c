// The ops status page's files, served by status-page.ts. Plain strings (the build is tsc alone, which copies no
// other files into dist/), written without backticks or `${` so String.raw keeps them byte for byte. The page holds
// no data: its script asks the admin API with the token the operator types in.

/** /admin/ui: the page. */
export const STATUS_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>cc-relay status</title>
<link rel="icon" href="/admin/ui/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/admin/ui/app.css">
<script src="/admin/ui/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1>cc-relay status</h1>
  <p class="meta" id="meta"></p>
  <div class="top-actions" id="session-actions" hidden>
    <button type="button" id="pause" aria-pressed="false">Pause refresh</button>
    <button type="button" id="logout">Sign out</button>
  </div>
</header>
<main id="main" tabindex="-1">
  <section id="login" class="login" aria-labelledby="login-title">
    <h2 id="login-title">Sign in</h2>
    <form id="login-form">
      <label for="token">Admin token (<code>admin.token</code>)</label>
      <input id="token" type="password" autocomplete="current-password" spellcheck="false" required>
      <button type="submit" class="primary" id="login-submit">Sign in</button>
      <p id="login-error" class="error" role="alert"></p>
    </form>
    <p class="hint">The token is kept in this tab's session storage only and sent as a Bearer header with each
      call to the admin API. Closing the tab forgets it.</p>
    <noscript><p class="error">This page needs JavaScript.</p></noscript>
  </section>
  <section id="dash" hidden aria-label="Relay status">
    <p id="status-line" class="status-line" role="status" aria-live="polite"></p>
    <div class="overview">
      <section class="card" id="totals" aria-labelledby="totals-title">
        <div class="card-head"><h3 id="totals-title">All providers, last 15 min</h3></div>
      </section>
      <section class="card" id="cache" aria-labelledby="cache-title">
        <div class="card-head"><h3 id="cache-title">Response cache</h3></div>
        <dl class="facts" id="cache-facts"></dl>
      </section>
    </div>
    <h2>Providers</h2>
    <div id="providers" class="grid"></div>
    <section id="drills-panel" class="card panel" aria-labelledby="drills-title" hidden>
      <div class="card-head"><h2 id="drills-title">Drills</h2></div>
      <div class="table-wrap"><table>
        <thead><tr><th scope="col">Drill</th><th scope="col">Provider</th><th scope="col">Schedule</th>
          <th scope="col">Next run</th><th scope="col">Now</th><th scope="col">Last verdict</th>
          <th scope="col">Success</th><th scope="col">Actions</th></tr></thead>
        <tbody id="drills"></tbody>
      </table></div>
    </section>
    <section id="replicas-panel" class="card panel" aria-labelledby="replicas-title" hidden>
      <div class="card-head"><h2 id="replicas-title">Replicas</h2></div>
      <p id="replicas-note" class="hint"></p>
      <div class="table-wrap"><table>
        <thead><tr><th scope="col">Replica</th><th scope="col">Version</th><th scope="col">Config</th>
          <th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">In flight</th></tr></thead>
        <tbody id="replicas"></tbody>
      </table></div>
    </section>
    <section id="availability-panel" class="card panel" aria-labelledby="availability-title" hidden>
      <div class="card-head"><h2 id="availability-title">Availability, last 3 UTC days</h2></div>
      <div class="table-wrap"><table>
        <thead><tr><th scope="col">Day</th><th scope="col">Provider</th><th scope="col">Success</th>
          <th scope="col">TTFB p50</th><th scope="col">TTFB p95</th><th scope="col">Fallback share</th>
          <th scope="col">Answers</th></tr></thead>
        <tbody id="availability"></tbody>
      </table></div>
    </section>
  </section>
</main>
<dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <form method="dialog">
    <h2 id="confirm-title">Confirm</h2>
    <p id="confirm-text"></p>
    <div class="buttons">
      <button type="submit" value="cancel" id="confirm-cancel">Cancel</button>
      <button type="submit" value="ok" id="confirm-ok" class="danger">Confirm</button>
    </div>
  </form>
</dialog>
</body>
</html>
`;

/** /admin/ui/app.css */
export const STATUS_PAGE_CSS = String.raw`:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --fg: #17191c; --muted: #5b6370; --card: #fff; --line: #d9dde3;
  --ok: #137333; --warn: #a15c00; --bad: #b3261e; --accent: #1a56c4; --focus: #ffbf47;
  --req: #1a56c4; --err: #b3261e; --fb: #a15c00;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111317; --fg: #e8eaed; --muted: #a0a7b1; --card: #1b1e24; --line: #30353d;
    --ok: #5bd07a; --warn: #f0b54a; --bad: #ff7b72; --accent: #7aa7ff; --req: #7aa7ff; --err: #ff7b72; --fb: #f0b54a; }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg); }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; top: 0; }
.skip:focus { left: 8px; top: 8px; background: var(--card); padding: 6px 10px; z-index: 10; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
main:focus { outline: none; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; padding: 12px 16px;
  border-bottom: 1px solid var(--line); background: var(--card); }
.top h1 { font-size: 1.15rem; margin: 0; }
.meta { margin: 0; color: var(--muted); flex: 1 1 auto; min-width: 12rem; }
.top-actions { display: flex; gap: 8px; flex-wrap: wrap; }
main { padding: 16px; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 1.05rem; margin: 20px 0 10px; }
button, input, select { font: inherit; color: inherit; }
button { min-height: 36px; padding: 4px 12px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--card); cursor: pointer; }
button:hover { border-color: var(--accent); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { border-color: var(--bad); color: var(--bad); }
button:disabled { opacity: .6; cursor: progress; }
input, select { min-height: 36px; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); }
.login { max-width: 26rem; margin: 8vh auto; background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; padding: 20px; }
.login form { display: grid; gap: 8px; }
.login h2 { margin-top: 0; }
.hint { color: var(--muted); font-size: .9rem; }
.error { color: var(--bad); min-height: 1.2em; margin: 4px 0; }
.status-line { min-height: 1.2em; margin: 0 0 8px; color: var(--warn); }
.overview { display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); }
.grid { display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(24rem, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px;
  min-width: 0; }
.card h3 { margin: 0; font-size: 1.05rem; word-break: break-all; }
.card-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.type { color: var(--muted); font-size: .85rem; }
.badge { margin-left: auto; font-weight: 700; font-size: .85rem; letter-spacing: .03em; padding: 2px 10px;
  border-radius: 999px; border: 2px solid currentColor; }
.st-closed .badge { color: var(--ok); }
.st-half_open .badge { color: var(--warn); }
.st-open .badge { color: var(--bad); }
.card.st-open { border-color: var(--bad); }
.card.st-half_open { border-color: var(--warn); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 8px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.chart { margin: 8px 0 0; }
.chart svg { display: block; width: 100%; height: 64px; background: var(--bg); border-radius: 6px; }
.chart .axis { display: flex; justify-content: space-between; font-size: .75rem; color: var(--muted); }
.chart figcaption { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: .82rem; color: var(--muted); }
.sw { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: 4px;
  vertical-align: -1px; }
.sw-lat { background: var(--accent); }
.sw-req { background: var(--req); } .sw-err { background: var(--err); } .sw-fb { background: var(--fb); }
.s-req { fill: var(--req); fill-opacity: .25; stroke: var(--req); stroke-width: 1.5; }
.s-err { fill: none; stroke: var(--err); stroke-width: 2; }
.s-fb { fill: none; stroke: var(--fb); stroke-width: 2; stroke-dasharray: 4 3; }
.s-lat { fill: none; stroke: var(--accent); stroke-width: 1.5; }
.numbers { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0 0; }
.numbers b { font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; margin-top: 8px; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: 4px 6px; border-top: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; }
.k-ready { color: var(--ok); } .k-cooling { color: var(--warn); } .k-parked { color: var(--bad); }
meter { width: 4rem; vertical-align: middle; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; margin-top: 10px;
  padding-top: 10px; border-top: 1px solid var(--line); }
.actions form { display: flex; flex-wrap: wrap; gap: 6px; align-items: end; }
.actions label { display: grid; font-size: .8rem; color: var(--muted); gap: 2px; }
.actions input[type=number] { width: 5.5rem; }
.actions input[type=text] { width: 10rem; }
.panel { margin-top: 20px; }
.panel h2 { margin: 0; }
.panel td.actions-cell { display: flex; gap: 6px; }
.d-running { color: var(--bad); font-weight: 700; }
.v-pass { color: var(--ok); } .v-fail, .v-aborted { color: var(--bad); } .v-inconclusive { color: var(--warn); }
.r-odd .r-config { color: var(--warn); font-weight: 600; }
dialog { border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: var(--fg);
  max-width: min(30rem, 92vw); }
dialog::backdrop { background: rgba(0, 0, 0, .45); }
dialog h2 { margin-top: 0; }
dialog .buttons { display: flex; justify-content: flex-end; gap: 8px; }
@media (max-width: 480px) {
  main { padding: 10px; }
  .grid, .overview { grid-template-columns: 1fr; }
  .actions input[type=text] { width: 100%; }
  .actions form { width: 100%; }
}
`;

/** /admin/ui/app.js: login, polling every 3 s, inline SVG charts, reset and force-open with a confirmation. */
export const STATUS_PAGE_JS = String.raw`'use strict';
(function () {
  var TOKEN_KEY = 'cc-relay-admin-token';
  var REFRESH_MS = 3000;
  var STEP_S = 5;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var STATE_TEXT = { closed: 'CLOSED', half_open: 'HALF-OPEN', open: 'OPEN' };

  var $ = function (id) { return document.getElementById(id); };
  var app = { token: null, timer: 0, paused: false, busy: false, again: false, cards: new Map(), drills: new Map(), totals: null, clusterMode: undefined };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }
  function svgEl(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.setAttribute('class', v);
      else node.setAttribute(k, v === true ? '' : String(v));
    });
  }
  function append(node, children) {
    if (children === undefined || children === null) return;
    (Array.isArray(children) ? children : [children]).forEach(function (c) {
      if (c === undefined || c === null || c === false) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
  }
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // ---- formatting ----
  function num(n, digits) {
    if (n === null || n === undefined || Number.isNaN(n)) return '–';
    return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function ms(v) {
    if (v === null || v === undefined) return '–';
    if (v < 1000) return num(v, 0) + ' ms';
    if (v < 60000) return num(v / 1000, 1) + ' s';
    return num(v / 60000, 1) + ' min';
  }
  function bytes(v) {
    if (v === null || v === undefined) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return num(v, i === 0 ? 0 : 1) + ' ' + units[i];
  }
  function ago(iso, now) {
    if (!iso) return '';
    var s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
    if (s < 60) return s + ' s ago';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ago';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min ago';
    return Math.floor(h / 24) + ' days ago';
  }
  function until(iso, now) {
    var s = Math.max(0, Math.round((Date.parse(iso) - now) / 1000));
    return s < 120 ? 'in ' + s + ' s' : 'in ' + Math.round(s / 60) + ' min';
  }
  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString() : '';
  }
  function sum(a) {
    var t = 0;
    for (var i = 0; i < a.length; i++) t += a[i];
    return t;
  }
  function pct(part, whole) {
    return whole > 0 ? num((100 * part) / whole, 1) + ' %' : '–';
  }

  // ---- API ----
  async function api(method, path, body) {
    var headers = { authorization: 'Bearer ' + app.token, accept: 'application/json' };
    var init = { method: method, headers: headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var res = await fetch(path, init);
    var text = await res.text();
    var json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!res.ok) {
      var message = json && json.error && json.error.message ? json.error.message : 'HTTP ' + res.status;
      var err = new Error(message);
      err.status = res.status;
      throw err;
    }
    return json;
  }

  // ---- session ----
  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function storeToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage off: the token lives in memory for this page only */ }
  }
  function showLogin(message) {
    clearTimeout(app.timer);
    app.token = null;
    storeToken(null);
    $('dash').hidden = true;
    $('session-actions').hidden = true;
    $('login').hidden = false;
    setText($('meta'), '');
    setText($('login-error'), message || '');
    $('token').value = '';
    $('token').focus();
  }
  function showDash() {
    $('login').hidden = true;
    $('dash').hidden = false;
    $('session-actions').hidden = false;
  }
  async function login(event) {
    event.preventDefault();
    var input = $('token');
    var token = input.value.trim();
    if (!token) { setText($('login-error'), 'Enter the admin token.'); return; }
    var button = $('login-submit');
    button.disabled = true;
    setText($('login-error'), '');
    app.token = token;
    try {
      await api('GET', '/admin/providers');
    } catch (e) {
      app.token = null;
      button.disabled = false;
      setText($('login-error'), e.status === 401 ? 'Wrong admin token: the relay refused it.'
        : e.status === 404 ? 'The admin API is off on this relay (no admin.token configured).'
        : 'Could not reach the relay: ' + e.message);
      input.select();
      return;
    }
    button.disabled = false;
    input.value = '';
    storeToken(token);
    showDash();
    $('main').focus();
    await refresh();
  }

  // ---- refresh loop ----
  function schedule() {
    clearTimeout(app.timer);
    if (app.token && !app.paused) app.timer = setTimeout(refresh, REFRESH_MS);
  }
  async function refresh() {
    if (!app.token) return;
    // A refresh asked for during another (after an action) runs right after it, on fresh data.
    if (app.busy) { app.again = true; return; }
    app.busy = true;
    app.again = false;
    try {
      // Asked once: only cluster.mode redis has GET /admin/replicas (a 404 would be a console error each refresh).
      if (app.clusterMode === undefined) {
        var running = await api('GET', '/admin/config').catch(optional);
        app.clusterMode = running && running.config && running.config.cluster ? running.config.cluster.mode : 'local';
      }
      var results = await Promise.all([
        api('GET', '/admin/providers'),
        api('GET', '/admin/stats/timeseries?step=' + STEP_S),
        api('GET', '/admin/cache/stats').catch(function (e) {
          if (e.status === 401) throw e;
          return { error: e.message };
        }),
        api('GET', '/admin/drills').catch(optional),
        api('GET', '/admin/availability').catch(optional),
        app.clusterMode === 'redis' ? api('GET', '/admin/replicas').catch(optional) : null,
      ]);
      render(results[0], results[1], results[2]);
      renderDrills(results[3], results[0], Date.parse(results[1].now) || Date.now());
      renderAvailability(results[4]);
      renderReplicas(results[5], Date.parse(results[1].now) || Date.now());
      setText($('status-line'), '');
    } catch (e) {
      if (e.status === 401) { app.busy = false; showLogin('The relay no longer accepts the token: sign in again.'); return; }
      setText($('status-line'), 'Refresh failed (' + e.message + '); trying again every ' + REFRESH_MS / 1000 + ' s.');
    } finally {
      app.busy = false;
    }
    if (app.again) { app.again = false; void refresh(); return; }
    schedule();
  }

  // ---- charts (inline SVG) ----
  var W = 300, H = 60;
  function makeChart(label, lines) {
    var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': label });
    var paths = {};
    lines.forEach(function (l) {
      paths[l.key] = svgEl('path', { class: l.cls, d: '', 'vector-effect': 'non-scaling-stroke' });
      svg.appendChild(paths[l.key]);
    });
    var caption = el('figcaption');
    var axis = el('div', { class: 'axis', 'aria-hidden': 'true' }, [el('span', { text: '15 min ago' }), el('span', { text: 'now' })]);
    var fig = el('figure', { class: 'chart' }, [svg, axis, caption]);
    return { fig: fig, svg: svg, paths: paths, caption: caption };
  }
  function linePath(values, max, area) {
    var n = values.length;
    if (n === 0) return '';
    var dx = n > 1 ? W / (n - 1) : W;
    var d = '';
    var pen = false;
    for (var i = 0; i < n; i++) {
      var v = values[i];
      if (v === null || v === undefined) { pen = false; continue; }
      var x = (i * dx).toFixed(1);
      var y = (H - 2 - (Math.min(v, max) / max) * (H - 6)).toFixed(1);
      d += (pen ? 'L' : 'M') + x + ' ' + y;
      // A point with no neighbour (one bin with samples) would draw nothing: a short dash shows it.
      if (!pen && (i + 1 >= n || values[i + 1] === null || values[i + 1] === undefined)) d += 'h' + (i > 0 ? -3 : 3);
      pen = true;
    }
    if (area && d) d += 'L' + W + ' ' + H + 'L0 ' + H + 'Z';
    return d;
  }
  function maxOf(values) {
    var m = 0;
    for (var i = 0; i < values.length; i++) if (values[i] !== null && values[i] > m) m = values[i];
    return m;
  }
  function perSecond(a, step) {
    return a.map(function (v) { return v / step; });
  }

  function rateChart(what) {
    return makeChart(what + ': requests, errors and fallbacks per second over the last 15 minutes', [
      { key: 'req', cls: 's-req' }, { key: 'err', cls: 's-err' }, { key: 'fb', cls: 's-fb' },
    ]);
  }
  function updateRateChart(chart, series, step, what) {
    var req = perSecond(series.requests, step);
    var err = perSecond(series.errors, step);
    var fb = perSecond(series.fallbacks, step);
    var max = Math.max(maxOf(req), maxOf(err), maxOf(fb), 0.2);
    chart.paths.req.setAttribute('d', linePath(req, max, true));
    chart.paths.err.setAttribute('d', linePath(err, max, false));
    chart.paths.fb.setAttribute('d', linePath(fb, max, false));
    var t = series.totals;
    var last = req.length > 1 ? req[req.length - 2] : 0;
    chart.svg.setAttribute('aria-label', what + ', last 15 minutes: ' + t.requests + ' requests, ' + t.errors +
      ' errors, ' + t.fallbacks + ' fallbacks; peak ' + num(max) + ' per second');
    chart.caption.replaceChildren(
      el('span', null, [el('span', { class: 'sw sw-req' }), 'requests ' + num(last, 2) + '/s']),
      el('span', null, [el('span', { class: 'sw sw-err' }), 'errors ' + num(t.errors, 0)]),
      el('span', null, [el('span', { class: 'sw sw-fb' }), 'fallbacks ' + num(t.fallbacks, 0)]),
      el('span', null, 'peak ' + num(max, 2) + '/s'),
    );
  }
  function latencyChart(what) {
    return makeChart(what + ': latency p95 over the last 15 minutes', [{ key: 'lat', cls: 's-lat' }]);
  }
  function updateLatencyChart(chart, series, what) {
    var values = series.latency_p95_ms;
    var max = Math.max(maxOf(values), 1);
    chart.paths.lat.setAttribute('d', linePath(values, max, false));
    var l = series.latency_ms;
    chart.svg.setAttribute('aria-label', what + ': latency p50 ' + ms(l.p50) + ', p95 ' + ms(l.p95) +
      ' over the last 15 minutes (' + l.samples + ' attempts)');
    chart.caption.replaceChildren(
      el('span', null, [el('span', { class: 'sw sw-lat' }), 'p95 per ' + STEP_S + ' s, max ' + ms(max)]),
    );
  }
  function numbersRow() {
    var row = el('p', { class: 'numbers' });
    return row;
  }
  function setNumbers(row, pairs) {
    row.replaceChildren.apply(row, pairs.map(function (p) {
      return el('span', null, [p[0] + ' ', el('b', { text: p[1] })]);
    }));
  }

  // ---- overview ----
  function ensureTotals() {
    if (app.totals) return app.totals;
    var box = $('totals');
    var t = { numbers: numbersRow(), rates: rateChart('All providers'), latency: latencyChart('All providers') };
    append(box, [t.numbers, t.rates.fig, t.latency.fig]);
    app.totals = t;
    return t;
  }
  function renderTotals(ts) {
    var t = ensureTotals();
    var s = ts.total;
    setNumbers(t.numbers, [
      ['requests', num(s.totals.requests, 0)],
      ['errors', num(s.totals.errors, 0) + ' (' + pct(s.totals.errors, s.totals.requests) + ')'],
      ['fallbacks', num(s.totals.fallbacks, 0)],
      ['p50', ms(s.latency_ms.p50)],
      ['p95', ms(s.latency_ms.p95)],
    ]);
    updateRateChart(t.rates, s, ts.step_s, 'All providers');
    updateLatencyChart(t.latency, s, 'All providers');
  }
  function renderCache(stats, ts) {
    var facts = $('cache-facts');
    var rows = [];
    if (stats.error) rows.push(['Status', 'unavailable: ' + stats.error]);
    else if (stats.mode === 'disabled') rows.push(['Mode', 'disabled']);
    else {
      var lookups = (stats.hits || 0) + (stats.misses || 0);
      var recent = ts.cache.totals.hits + ts.cache.totals.misses;
      rows.push(['Mode', stats.mode]);
      rows.push(['Hit ratio', pct(stats.hits || 0, lookups) + ' since start (' + num(stats.hits || 0, 0) + ' of ' + num(lookups, 0) + ')']);
      rows.push(['Last 15 min', pct(ts.cache.totals.hits, recent) + ' (' + num(ts.cache.totals.hits, 0) + ' of ' + num(recent, 0) + ')']);
      rows.push(['Entries', num(stats.key_count, 0)]);
      rows.push(['Bytes', bytes(stats.bytes_used)]);
      rows.push(['Evictions', num(stats.evictions, 0)]);
    }
    facts.replaceChildren.apply(facts, rows.flatMap(function (r) {
      return [el('dt', { text: r[0] }), el('dd', { text: r[1] })];
    }));
  }

  // ---- providers ----
  var UNITS = { s: 1000, min: 60000, h: 3600000 };
  function makeCard(name) {
    var id = 'p-' + Math.random().toString(36).slice(2, 9);
    var c = { name: name };
    c.title = el('h3', { id: id + '-t', text: name });
    c.type = el('span', { class: 'type' });
    c.badge = el('span', { class: 'badge state', role: 'status' });
    c.facts = el('dl', { class: 'facts' });
    c.numbers = numbersRow();
    c.rates = rateChart(name);
    c.latency = latencyChart(name);
    c.keysTitle = el('summary');
    c.keysBody = el('tbody');
    c.keys = el('details', { class: 'keys' }, [
      c.keysTitle,
      el('div', { class: 'table-wrap' }, el('table', null, [
        el('thead', null, el('tr', null, ['Key', 'State', 'In flight', 'Requests/min', 'Input tok/min', 'Output tok/min']
          .map(function (h) { return el('th', { scope: 'col', text: h }); }))),
        c.keysBody,
      ])),
    ]);
    c.reset = el('button', { type: 'button', class: 'danger reset', text: 'Reset' });
    c.reset.addEventListener('click', function () { void resetProvider(c); });
    c.amount = el('input', { type: 'number', min: '1', step: '1', value: '5', required: true, id: id + '-amount', class: 'amount' });
    c.unit = el('select', { id: id + '-unit', class: 'unit' }, [
      el('option', { value: 's', text: 'seconds' }),
      el('option', { value: 'min', text: 'minutes', selected: true }),
      el('option', { value: 'h', text: 'hours' }),
    ]);
    c.reason = el('input', { type: 'text', maxlength: '200', id: id + '-reason', class: 'reason', placeholder: 'failover drill' });
    c.openBtn = el('button', { type: 'submit', class: 'danger force-open', text: 'Force open' });
    c.form = el('form', { class: 'force' }, [
      el('label', { for: id + '-amount' }, ['Open for', c.amount]),
      el('label', { for: id + '-unit' }, ['Unit', c.unit]),
      el('label', { for: id + '-reason' }, ['Reason (optional)', c.reason]),
      c.openBtn,
    ]);
    c.form.addEventListener('submit', function (e) { e.preventDefault(); void forceOpen(c); });
    c.root = el('article', { class: 'card provider', 'data-provider': name, 'aria-labelledby': id + '-t' }, [
      el('div', { class: 'card-head' }, [c.title, c.type, c.badge]),
      c.facts, c.numbers, c.rates.fig, c.latency.fig, c.keys,
      el('div', { class: 'actions' }, [c.reset, c.form]),
    ]);
    return c;
  }

  function keyState(k, now) {
    if (k.rejected) return { cls: 'k-parked', text: 'parked (' + k.rejected.status + ', ' + ago(k.rejected.at, now) + ')' };
    if (k.cooldown_until && Date.parse(k.cooldown_until) > now) return { cls: 'k-cooling', text: 'cooling ' + until(k.cooldown_until, now) };
    if (!k.available) return { cls: 'k-cooling', text: k.retry_after_ms > 0 ? 'at its limit, ' + ms(k.retry_after_ms) : 'busy' };
    return { cls: 'k-ready', text: 'ready' };
  }
  function usageCell(used, limit, learned) {
    var cell = el('td');
    if (limit > 0) {
      append(cell, [el('meter', { min: '0', max: String(limit), value: String(Math.min(used, limit)), high: String(limit * 0.8), 'aria-label': num(used, 0) + ' of ' + num(limit, 0) }), ' ' + num(used, 0) + ' / ' + num(limit, 0)]);
    } else {
      append(cell, num(used, 0));
    }
    if (learned && learned.limit !== null && learned.limit !== undefined) {
      append(cell, ' (upstream: ' + num(learned.remaining, 0) + ' left of ' + num(learned.limit, 0) + ')');
    }
    return cell;
  }

  function updateCard(c, p, series, ts, now) {
    var state = p.state;
    c.root.setAttribute('data-state', state);
    c.root.setAttribute('class', 'card provider st-' + state);
    setText(c.type, p.type + (p.enabled ? '' : ' · disabled'));
    setText(c.badge, (STATE_TEXT[state] || state) + (p.forced ? ' (forced)' : ''));
    var since;
    if (state === 'open' && p.opened_at) since = p.opened_at;
    else if (series.state_since && series.state === state) since = series.state_since;
    var facts = [];
    facts.push(['Since', since ? clock(since) + ' (' + ago(since, now) + ')' : 'start of this replica (' + ago(ts.started_at, now) + ')']);
    if (state === 'open' && p.retry_at) facts.push(['Half-open', clock(p.retry_at) + ' (' + until(p.retry_at, now) + ')']);
    if (state === 'half_open') facts.push(['Test requests', p.half_open_successes + ' passed, ' + p.half_open_in_flight + ' in flight']);
    facts.push(['Failures', num(p.consecutive_failures, 0) + ' in a row' + (p.reopens ? ', ' + p.reopens + ' re-opens' : '')]);
    facts.push(['Last error', p.last_error ? (p.last_error.status ? p.last_error.status + ': ' : '') + p.last_error.message + ' (' + ago(p.last_error.at, now) + ')' : 'none']);
    facts.push(['In flight', num(p.in_flight, 0)]);
    facts.push(['Upstream', p.base_url]);
    c.facts.replaceChildren.apply(c.facts, facts.flatMap(function (r) {
      return [el('dt', { text: r[0] }), el('dd', { text: r[1], class: 'f-' + r[0].toLowerCase().replace(/\W+/g, '-') })];
    }));
    setNumbers(c.numbers, [
      ['requests', num(series.totals.requests, 0)],
      ['errors', num(series.totals.errors, 0) + ' (' + pct(series.totals.errors, series.totals.requests) + ')'],
      ['fallbacks', num(series.totals.fallbacks, 0)],
      ['p50', ms(series.latency_ms.p50)],
      ['p95', ms(series.latency_ms.p95)],
    ]);
    updateRateChart(c.rates, series, ts.step_s, p.name);
    updateLatencyChart(c.latency, series, p.name);

    var keys = p.keys || [];
    var counts = { ready: 0, cooling: 0, parked: 0 };
    var rows = keys.map(function (k) {
      var st = keyState(k, now);
      counts[st.cls.slice(2)] += 1;
      var u = k.usage || {}, lim = k.limits || {}, learned = k.learned || {};
      return el('tr', null, [
        el('td', null, el('code', { text: k.key })),
        el('td', { class: st.cls, text: st.text }),
        el('td', { text: num(k.in_flight, 0) }),
        usageCell(u.requests || 0, lim.rpm || 0, learned.requests),
        usageCell(u.input_tokens || 0, lim.itpm || 0, learned.input_tokens),
        usageCell(u.output_tokens || 0, lim.otpm || 0, learned.output_tokens),
      ]);
    });
    c.keysBody.replaceChildren.apply(c.keysBody, rows);
    setText(c.keysTitle, keys.length === 0 ? 'Keys: none (forwards the client\u2019s credential)'
      : 'Keys: ' + keys.length + ' (' + counts.ready + ' ready, ' + counts.cooling + ' cooling, ' + counts.parked + ' parked)');
    if (counts.cooling + counts.parked > 0 && !c.keysOpened) { c.keys.open = true; c.keysOpened = true; }
  }

  var EMPTY = null;
  function emptySeries(ts) {
    if (EMPTY && EMPTY.n === ts.total.requests.length) return EMPTY.s;
    var zeros = ts.total.requests.map(function () { return 0; });
    var s = { requests: zeros, errors: zeros, fallbacks: zeros, totals: { requests: 0, errors: 0, fallbacks: 0 },
      latency_ms: { p50: null, p95: null, samples: 0 }, latency_p95_ms: zeros.map(function () { return null; }),
      state: null, state_since: null };
    EMPTY = { n: zeros.length, s: s };
    return s;
  }

  function render(list, ts, cache) {
    var now = Date.parse(ts.now) || Date.now();
    setText($('meta'), 'Replica ' + list.instance + ' · updated ' + new Date().toLocaleTimeString() +
      ' · refreshes every ' + REFRESH_MS / 1000 + ' s' + (app.paused ? ' (paused)' : ''));
    renderTotals(ts);
    renderCache(cache, ts);
    var container = $('providers');
    var seen = new Set();
    list.providers.forEach(function (p, i) {
      seen.add(p.name);
      var c = app.cards.get(p.name);
      if (!c) { c = makeCard(p.name); app.cards.set(p.name, c); }
      if (container.children[i] !== c.root) container.insertBefore(c.root, container.children[i] || null);
      updateCard(c, p, ts.providers[p.name] || emptySeries(ts), ts, now);
    });
    app.cards.forEach(function (c, name) {
      if (!seen.has(name)) { c.root.remove(); app.cards.delete(name); }
    });
  }

  // ---- drills and availability (hidden when the relay has none) ----
  function optional(e) {
    if (e.status === 401) throw e;
    return null;
  }
  var DRILL_ROW_CELLS = ['provider', 'schedule', 'next', 'now', 'verdict', 'ratio'];
  function makeDrillRow(name) {
    var d = { name: name, cells: {} };
    d.run = el('button', { type: 'button', class: 'danger run-drill', text: 'Run now', 'aria-label': 'Run drill ' + name + ' now' });
    d.abort = el('button', { type: 'button', class: 'danger abort-drill', text: 'Abort', 'aria-label': 'Abort drill ' + name, hidden: true });
    d.run.addEventListener('click', function () { void runDrill(d); });
    d.abort.addEventListener('click', function () { void abortDrill(d); });
    var cells = [el('th', { scope: 'row', text: name })];
    DRILL_ROW_CELLS.forEach(function (k) { d.cells[k] = el('td', { class: 'd-' + k }); cells.push(d.cells[k]); });
    cells.push(el('td', { class: 'actions-cell' }, [d.run, d.abort]));
    d.root = el('tr', { 'data-drill-row': name }, cells);
    return d;
  }
  function renderDrills(answer, list, now) {
    var drills = answer && Array.isArray(answer.drills) ? answer.drills : [];
    $('drills-panel').hidden = drills.length === 0;
    var body = $('drills');
    var seen = new Set();
    var running = new Map();
    drills.forEach(function (x, i) {
      seen.add(x.name);
      var d = app.drills.get(x.name);
      if (!d) { d = makeDrillRow(x.name); app.drills.set(x.name, d); }
      if (body.children[i] !== d.root) body.insertBefore(d.root, body.children[i] || null);
      var history = x.history || [];
      var last = history.find(function (r) { return r.verdict; });
      var p = (list.providers || []).find(function (q) { return q.name === x.provider; });
      if (x.running) running.set(x.provider, x.name);
      d.provider = x.provider;
      d.root.setAttribute('data-running', x.running ? 'true' : 'false');
      setText(d.cells.provider, x.provider + (p ? ' (' + (STATE_TEXT[p.state] || p.state) + (p.forced ? ', forced' : '') + ')' : ''));
      setText(d.cells.schedule, x.schedule + ', ' + ms(x.duration_ms));
      setText(d.cells.next, x.next_run_at ? new Date(x.next_run_at).toLocaleString() + ' (' + until(x.next_run_at, now) + ')' : '–');
      setText(d.cells.now, x.running ? 'running' : 'idle');
      d.cells.now.className = 'd-now' + (x.running ? ' d-running' : '');
      setText(d.cells.verdict, last ? last.verdict + (last.ended_at ? ' (' + ago(last.ended_at, now) + ')' : '') : 'no run yet');
      d.cells.verdict.className = 'd-verdict' + (last ? ' v-' + last.verdict : '');
      if (last && last.reason) d.cells.verdict.setAttribute('title', last.reason);
      else d.cells.verdict.removeAttribute('title');
      setText(d.cells.ratio, last && last.success_ratio !== null && last.success_ratio !== undefined
        ? num(100 * last.success_ratio, 1) + ' % of ' + num(last.requests, 0) : '–');
      var focusRun = document.activeElement === d.run && x.running;
      var focusAbort = document.activeElement === d.abort && !x.running;
      d.run.hidden = !!x.running;
      d.abort.hidden = !x.running;
      if (focusRun) d.abort.focus();
      if (focusAbort) d.run.focus();
    });
    app.drills.forEach(function (d, name) {
      if (!seen.has(name)) { d.root.remove(); app.drills.delete(name); }
    });
    // A provider a drill holds open says so on its card.
    app.cards.forEach(function (c, name) {
      var drill = running.get(name);
      var dd = c.facts.querySelector('.f-reason');
      if (drill && !dd) append(c.facts, [el('dt', { text: 'Reason' }), dd = el('dd', { class: 'f-reason' })]);
      if (dd) setText(dd, drill ? 'drill (' + drill + ')' : '');
      c.root.setAttribute('data-drill', drill || '');
    });
  }
  function ttfb(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'string') return '> ' + ms(Number(v.replace(/^>/, '')));
    return '≤ ' + ms(v);
  }
  var AVAILABILITY_DAYS = 3;
  function renderAvailability(answer) {
    var days = answer && Array.isArray(answer.days) ? answer.days.slice(0, AVAILABILITY_DAYS) : [];
    var rows = [];
    days.forEach(function (day) {
      Object.keys(day.providers || {}).forEach(function (name) {
        var f = day.providers[name];
        rows.push(el('tr', { 'data-day': day.day, 'data-provider-row': name }, [
          el('th', { scope: 'row', text: day.day }),
          el('td', { text: name }),
          el('td', { class: 'a-success', text: f.availability === null ? '–' : num(100 * f.availability, 2) + ' %' }),
          el('td', { text: ttfb(f.ttfb_ms.p50) }),
          el('td', { text: ttfb(f.ttfb_ms.p95) }),
          el('td', { text: f.fallback_share === null ? '–' : num(100 * f.fallback_share, 1) + ' %' }),
          el('td', { text: num(f.succeeded, 0) + ' of ' + num(f.expected, 0) }),
        ]));
      });
    });
    $('availability-panel').hidden = rows.length === 0;
    var body = $('availability');
    body.replaceChildren.apply(body, rows);
  }
  function renderReplicas(answer, now) {
    var replicas = answer && Array.isArray(answer.replicas) ? answer.replicas : [];
    // The config most replicas run; any other hash is a rollout in progress (or a replica left behind).
    var counts = new Map();
    replicas.forEach(function (r) { counts.set(r.config_hash, (counts.get(r.config_hash) || 0) + 1); });
    var common = null;
    counts.forEach(function (n, hash) { if (common === null || n > counts.get(common)) common = hash; });
    var rows = replicas.map(function (r) {
      // The relay's own flag (config_differs) when it sends one, else the same rule computed here.
      var odd = typeof r.config_differs === 'boolean' ? r.config_differs : r.config_hash !== common;
      return el('tr', { 'data-replica-row': r.id, class: odd ? 'r-odd' : '' }, [
        el('th', { scope: 'row', text: r.id }),
        el('td', { text: r.version || '–' }),
        el('td', { class: 'r-config', text: String(r.config_hash || '').slice(0, 12) + (odd ? ' (differs)' : '') }),
        el('td', { text: r.started_at ? ago(r.started_at, now) : '–' }),
        el('td', { text: r.last_seen ? ago(r.last_seen, now) : '–' }),
        el('td', { text: num(r.in_flight || 0, 0) }),
      ]);
    });
    $('replicas-panel').hidden = rows.length === 0;
    setText($('replicas-note'), counts.size > 1
      ? 'Replicas run ' + counts.size + ' different configs: a rollout in progress, or a replica left behind.'
      : rows.length + (rows.length === 1 ? ' live replica' : ' live replicas') + ', one config.');
    var body = $('replicas');
    body.replaceChildren.apply(body, rows);
  }
  async function runDrill(d) {
    var ok = await confirmAction('Run drill ' + d.name + ' now?',
      'The circuit of ' + d.provider + ' is forced OPEN (reason drill) for the drill’s duration; traffic goes wherever routing and fallbacks send it. The drill ends early if the success ratio falls below its floor.',
      'Run now');
    if (!ok) { d.run.focus(); return; }
    await act(d, d.run, function () {
      return api('POST', '/admin/drills/' + encodeURIComponent(d.name) + '/run');
    }, 'Drill ' + d.name + ' started: ' + d.provider + ' forced OPEN.');
  }
  async function abortDrill(d) {
    var ok = await confirmAction('Abort drill ' + d.name + '?',
      'The drill ends now with the verdict aborted and ' + d.provider + ' is restored.',
      'Abort');
    if (!ok) { d.abort.focus(); return; }
    await act(d, d.abort, function () {
      return api('POST', '/admin/drills/' + encodeURIComponent(d.name) + '/abort');
    }, 'Drill ' + d.name + ' aborted.');
  }

  // ---- actions ----
  function confirmAction(title, text, okLabel) {
    var dialog = $('confirm');
    setText($('confirm-title'), title);
    setText($('confirm-text'), text);
    setText($('confirm-ok'), okLabel);
    return new Promise(function (resolve) {
      dialog.returnValue = '';
      dialog.addEventListener('close', function onClose() {
        dialog.removeEventListener('close', onClose);
        resolve(dialog.returnValue === 'ok');
      });
      dialog.showModal();
      $('confirm-cancel').focus();
    });
  }
  async function act(c, button, run, done) {
    button.disabled = true;
    try {
      await run();
      setText($('status-line'), done);
    } catch (e) {
      if (e.status === 401) { showLogin('The relay no longer accepts the token: sign in again.'); return; }
      setText($('status-line'), 'Failed: ' + e.message);
    } finally {
      button.disabled = false;
      button.focus();
    }
    await refresh();
  }
  async function resetProvider(c) {
    var ok = await confirmAction('Reset ' + c.name + '?',
      'The circuit closes, its failure count and last error are cleared, and cooling or parked keys go back into rotation at once.',
      'Reset');
    if (!ok) { c.reset.focus(); return; }
    await act(c, c.reset, function () {
      return api('POST', '/admin/providers/' + encodeURIComponent(c.name) + '/reset');
    }, c.name + ' reset: circuit CLOSED.');
  }
  async function forceOpen(c) {
    var amount = Number(c.amount.value);
    var durationMs = Math.round(amount * UNITS[c.unit.value]);
    if (!(amount > 0) || durationMs < 1000 || durationMs > 86400000) {
      setText($('status-line'), 'Force open: choose a duration from 1 second to 24 hours.');
      c.amount.focus();
      return;
    }
    var label = c.amount.value + ' ' + c.unit.options[c.unit.selectedIndex].text;
    var ok = await confirmAction('Force ' + c.name + ' open for ' + label + '?',
      'Traffic moves to the other providers until the circuit goes half-open; health probes do not shorten it.',
      'Force open');
    if (!ok) { c.openBtn.focus(); return; }
    var body = { duration_ms: durationMs };
    var reason = c.reason.value.trim();
    if (reason) body.reason = reason;
    await act(c, c.openBtn, function () {
      return api('POST', '/admin/providers/' + encodeURIComponent(c.name) + '/open', body);
    }, c.name + ' forced OPEN for ' + label + '.');
  }

  // ---- start ----
  function start() {
    $('login-form').addEventListener('submit', function (e) { void login(e); });
    $('logout').addEventListener('click', function () { showLogin('Signed out.'); });
    $('pause').addEventListener('click', function () {
      app.paused = !app.paused;
      $('pause').setAttribute('aria-pressed', String(app.paused));
      setText($('pause'), app.paused ? 'Resume refresh' : 'Pause refresh');
      if (app.paused) clearTimeout(app.timer);
      else void refresh();
    });
    var token = storedToken();
    if (token) {
      app.token = token;
      showDash();
      void refresh();
    } else {
      $('token').focus();
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
`;

/** /admin/ui/favicon.svg: a dot in the relay's accent colour (a browser asks for an icon; a 404 would be logged). */
export const STATUS_PAGE_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#1a56c4"/></svg>';
