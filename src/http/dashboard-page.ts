// The operator dashboard as one self-contained HTML document: inline CSS and vanilla JavaScript, SVG
// charts drawn by hand, no external assets (operators' machines may be offline). Every value from the
// admin API reaches the DOM through textContent or setAttribute, never as markup. The script is
// plain text inside a template literal: it uses no backticks and no "${" of its own.

export function dashboardPage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ICD operator dashboard</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header>
  <h1>ICD <span>operator dashboard</span></h1>
  <div class="controls">
    <div class="segmented" role="group" aria-label="Window">
      <button type="button" data-window="hour" data-testid="window-hour">Last hour</button>
      <button type="button" data-window="day" data-testid="window-day">Last day</button>
      <button type="button" data-window="month" data-testid="window-month">Last 30 days</button>
    </div>
    <button type="button" id="refresh" data-testid="refresh">Refresh</button>
    <span id="updated" class="muted" data-testid="updated">Loading…</span>
  </div>
</header>
<div id="error" class="error" role="alert" data-testid="error" hidden></div>
<main>
  <section>
    <h2>Traffic <span id="window-label" class="muted"></span></h2>
    <div class="cards">
      <div class="card">
        <div class="label">Syncs</div>
        <div class="value" data-testid="total-syncs">–</div>
        <div class="sub"><span data-testid="total-full">–</span> full · <span data-testid="total-incremental">–</span> incremental</div>
      </div>
      <div class="card">
        <div class="label">Identifiers checked</div>
        <div class="value" data-testid="total-identifiers">–</div>
      </div>
      <div class="card">
        <div class="label">Matches</div>
        <div class="value" data-testid="total-matches">–</div>
        <div class="sub">hit ratio <span data-testid="total-hit-ratio">–</span></div>
      </div>
      <div class="card warn">
        <div class="label">Refusals</div>
        <div class="value" data-testid="total-refusals">–</div>
      </div>
      <div class="card alert">
        <div class="label">Flags</div>
        <div class="value" data-testid="total-flags">–</div>
      </div>
    </div>
    <div id="charts" class="charts"></div>
  </section>
  <section>
    <h2>Flagged clients <span class="count" data-testid="flagged-count">–</span></h2>
    <div class="panel flush">
      <table class="flagged">
        <thead><tr><th>Client</th><th>Flagged</th><th>Reasons</th><th></th></tr></thead>
        <tbody id="flagged-body"></tbody>
      </table>
      <p id="flagged-empty" class="empty muted" data-testid="flagged-empty" hidden>No client is flagged.</p>
    </div>
  </section>
  <section>
    <h2>Detection</h2>
    <div class="detection">
      <div class="panel">
        <h3>Budgets</h3>
        <dl>
          <dt>Max contacts (bucket capacity)</dt><dd data-testid="budget-max-contacts">–</dd>
          <dt>S2 period (incremental bucket drains)</dt><dd data-testid="budget-s2-period">–</dd>
          <dt>S2 delta (full bucket drains)</dt><dd data-testid="budget-s2-delta">–</dd>
          <dt>Quarantine budget (full-sync budget a flagged client keeps)</dt><dd data-testid="quarantine-budget">–</dd>
        </dl>
      </div>
      <div class="panel">
        <h3>Rule thresholds</h3>
        <dl id="rules" data-testid="rules"></dl>
      </div>
      <div class="panel">
        <h3>Learned norm</h3>
        <dl>
          <dt>Hit ratio of normal syncs</dt><dd data-testid="norm-hit-ratio">–</dd>
          <dt>Samples</dt><dd data-testid="norm-samples">–</dd>
        </dl>
      </div>
    </div>
  </section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f5f6f8; --panel: #fff; --text: #1c2230; --muted: #687385; --line: #e2e5ea;
  --accent: #2f6fde; --accent-soft: #a9c4f5; --on-accent: #fff; --warn: #b86e00; --alert: #c8322a; --hover: #f0f3f8;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #11141a; --panel: #1a1e26; --text: #e5e8ee; --muted: #97a0ae; --line: #2b313c;
    --accent: #6d9df1; --accent-soft: #35558c; --on-accent: #0c1220; --warn: #e3a33e; --alert: #f06b62; --hover: #222834;
  }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; justify-content: space-between;
  padding: 12px 24px; background: var(--panel); border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; }
h1 span { font-weight: 400; color: var(--muted); }
h2 { font-size: 16px; margin: 28px 0 12px; }
h3 { font-size: 13px; margin: 0 0 10px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
main { max-width: 1240px; margin: 0 auto; padding: 0 24px 48px; }
.muted { color: var(--muted); font-weight: 400; }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
button { font: inherit; color: inherit; background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: 5px 12px; cursor: pointer; }
button:hover:not(:disabled) { background: var(--hover); }
button:disabled { opacity: .55; cursor: default; }
.segmented { display: inline-flex; }
.segmented button { border-radius: 0; margin-left: -1px; }
.segmented button:first-child { border-radius: 6px 0 0 6px; margin-left: 0; }
.segmented button:last-child { border-radius: 0 6px 6px 0; }
.segmented button[aria-pressed="true"] { background: var(--accent); border-color: var(--accent); color: var(--on-accent); }
.error { max-width: 1240px; margin: 12px auto 0; padding: 10px 14px; border-radius: 6px;
  border: 1px solid var(--alert); color: var(--alert); background: var(--panel); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.card, .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.panel.flush { padding: 0; overflow-x: auto; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: 2px; }
.card .sub { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.card.warn .value { color: var(--warn); }
.card.alert .value { color: var(--alert); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; margin-top: 12px; }
.chart.wide { grid-column: 1 / -1; }
.chart h3 { display: flex; justify-content: space-between; gap: 8px; }
.chart h3 .muted { text-transform: none; letter-spacing: 0; font-weight: 400; }
.chart svg { display: block; width: 100%; height: auto; }
.chart .legend { font-size: 12px; color: var(--muted); margin-top: 4px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; vertical-align: -1px; }
.grid-line { stroke: var(--line); stroke-width: 1; }
.axis { fill: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.no-data { fill: var(--muted); font-size: 13px; }
.bar, .swatch.bar { fill: var(--accent); background: var(--accent); }
.bar.soft, .swatch.soft { fill: var(--accent-soft); background: var(--accent-soft); }
.bar.warn, .swatch.warn { fill: var(--warn); background: var(--warn); }
.bar.alert, .swatch.alert { fill: var(--alert); background: var(--alert); }
.count { display: inline-block; min-width: 22px; padding: 0 7px; border-radius: 11px; background: var(--alert); color: #fff;
  font-size: 12px; text-align: center; vertical-align: 2px; }
.count.zero { background: var(--line); color: var(--muted); }
table { width: 100%; border-collapse: collapse; }
th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600; padding: 10px 16px; border-bottom: 1px solid var(--line); }
td { padding: 10px 16px; border-bottom: 1px solid var(--line); vertical-align: top; }
tbody tr:last-child td { border-bottom: 0; }
td.id code { font-size: 12px; word-break: break-all; }
td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.action { text-align: right; width: 1%; }
.reasons { list-style: none; margin: 0; padding: 0; }
.reasons li + li { margin-top: 4px; }
.rule { display: inline-block; font: 600 11px/18px ui-monospace, SFMono-Regular, Menlo, monospace; padding: 0 6px;
  border-radius: 4px; border: 1px solid var(--alert); color: var(--alert); margin-right: 8px; }
.empty { margin: 0; padding: 14px 16px; }
.detection { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 12px; }
dl { display: grid; grid-template-columns: 1fr auto; gap: 6px 16px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
dt code { font-size: 12px; color: var(--text); }
`;

const SCRIPT = `
"use strict";
(() => {
  // The JSON endpoints sit beside the page, whether it was opened as /admin or /admin/. Absolute, on
  // the origin: opened as http://admin:<token>@host/admin/, the document keeps the credentials in its
  // URL, and fetch refuses any URL that resolves to one with credentials. The browser still
  // authenticates these requests: it caches the credentials the page was opened with.
  const BASE = location.origin + (location.pathname.endsWith("/") ? location.pathname : location.pathname + "/");
  const REFRESH_MS = 30000;
  const MINUTE = 60000;
  // Each window is split into about a hundred bars at most: minutes are summed into bins here.
  const WINDOWS = {
    hour: { minutes: 60, binMinutes: 1, label: "last hour, per minute" },
    day: { minutes: 1440, binMinutes: 15, label: "last day, per 15 minutes" },
    month: { minutes: 43200, binMinutes: 360, label: "last 30 days, per 6 hours" },
  };
  const CHARTS = [
    { key: "syncs", title: "Syncs", wide: true, part: "full", cls: "soft", partCls: "",
      legend: [["", "full"], ["soft", "incremental"]],
      tip: (b) => fmt(b.syncs) + " syncs (" + fmt(b.full) + " full, " + fmt(b.incremental) + " incremental)" },
    { key: "identifiers", title: "Identifiers checked", cls: "", tip: (b) => fmt(b.identifiers) + " identifiers" },
    { key: "matches", title: "Matches", cls: "", tip: (b) => fmt(b.matches) + " matches" },
    { key: "refusals", title: "Refusals", cls: "warn", tip: (b) => fmt(b.refusals) + " refusals" },
    { key: "flags", title: "Flags", cls: "alert", tip: (b) => fmt(b.flags) + " clients flagged" },
  ];
  const FIELDS = ["syncs", "full", "incremental", "identifiers", "matches", "refusals", "flags"];
  const SVG = "http://www.w3.org/2000/svg";
  const NUMBER = new Intl.NumberFormat("en-US");
  const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const PRECISE = new Intl.NumberFormat("en-US", { maximumSignificantDigits: 6 });
  const ROUGH = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  const $ = (testid) => document.querySelector('[data-testid="' + testid + '"]');
  const num = (x) => (typeof x === "number" && Number.isFinite(x) ? x : 0);
  const fmt = (x) => NUMBER.format(num(x));
  const percent = (ratio, digits) =>
    new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: digits }).format(ratio);
  const setText = (testid, text) => { $(testid).textContent = text; };

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) for (const [k, v] of Object.entries(props)) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children || []) node.append(child);
    return node;
  }
  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (parent) parent.append(node);
    return node;
  }

  function duration(seconds) {
    const units = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
    const parts = [];
    let rest = Math.round(num(seconds));
    for (const [name, size] of units) {
      if (rest >= size && parts.length < 2) { parts.push(Math.floor(rest / size) + " " + name); rest %= size; }
    }
    return parts.length ? parts.join(" ") : "0 s";
  }
  function ago(ms) {
    const minutes = Math.max(0, Math.round((Date.now() - ms) / MINUTE));
    if (minutes < 1) return "just now";
    if (minutes < 120) return minutes + " min ago";
    if (minutes < 48 * 60) return Math.round(minutes / 60) + " h ago";
    return Math.round(minutes / 1440) + " days ago";
  }
  const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  const dayAndTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const dayOnly = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
  const full = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  // Loads are independent: one failing endpoint leaves the others' panels current. A sequence
  // number per panel drops an answer that a newer request of the same panel has overtaken.
  const latest = {};
  const errors = new Map();
  async function load(panel, path, render) {
    const mine = (latest[panel] = (latest[panel] || 0) + 1);
    try {
      const response = await fetch(BASE + path, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!response.ok) throw new Error(describeStatus(path, response.status));
      const data = await response.json();
      if (latest[panel] !== mine) return;
      render(data);
      errors.delete(panel);
    } catch (error) {
      if (latest[panel] === mine) errors.set(panel, error instanceof Error ? error.message : String(error));
    }
    showErrors();
  }
  function describeStatus(path, status) {
    const endpoint = "/admin/" + path.split("?")[0];
    if (status === 401) return endpoint + ": not signed in (401); reload the page and sign in with a key (its id as user name, its secret as password)";
    if (status === 403) return endpoint + ": not for your role (403); operators see flagged clients and clear them";
    return endpoint + " answered HTTP " + status;
  }
  function showErrors() {
    const box = $("error");
    box.textContent = [...errors.values()].join("; ");
    box.hidden = errors.size === 0;
  }

  let windowKey = WINDOWS[location.hash.slice(1)] ? location.hash.slice(1) : "hour";

  function loadSeries() {
    const chosen = windowKey;
    return load("series", "series?minutes=" + WINDOWS[chosen].minutes, (data) => renderSeries(data, chosen));
  }
  const loadFlagged = () => load("flagged", "flagged", renderFlagged);
  const loadDetection = () => load("detection", "detection", renderDetection);

  async function refresh() {
    await Promise.all([loadSeries(), loadFlagged(), loadDetection()]);
    setText("updated", "Updated " + new Date().toLocaleTimeString());
  }

  function renderSeries(data, chosen) {
    const spec = WINDOWS[chosen];
    const minutes = Array.isArray(data.minutes) ? data.minutes : [];
    const to = num(data.to) || Date.now();
    const from = num(data.from) || to - spec.minutes * MINUTE;
    const totals = Object.fromEntries(FIELDS.map((f) => [f, 0]));
    for (const m of minutes) for (const f of FIELDS) totals[f] += num(m[f]);

    for (const f of FIELDS) setText("total-" + f, fmt(totals[f]));
    setText("total-hit-ratio", totals.identifiers > 0 ? percent(totals.matches / totals.identifiers, 2) : "–");
    $("total-refusals").closest(".card").classList.toggle("warn", totals.refusals > 0);
    $("total-flags").closest(".card").classList.toggle("alert", totals.flags > 0);
    document.getElementById("window-label").textContent = "· " + spec.label;

    // Bins start on multiples of the bin size, so bars do not shift between refreshes.
    const binMs = spec.binMinutes * MINUTE;
    const start = Math.floor(from / binMs) * binMs;
    const count = Math.max(1, Math.ceil((to + 1 - start) / binMs));
    const bins = Array.from({ length: count }, (_, i) => {
      const bin = { at: start + i * binMs };
      for (const f of FIELDS) bin[f] = 0;
      return bin;
    });
    for (const m of minutes) {
      const i = Math.floor((num(m.at) - start) / binMs);
      if (i >= 0 && i < count) for (const f of FIELDS) bins[i][f] += num(m[f]);
    }
    const charts = document.getElementById("charts");
    charts.replaceChildren(...CHARTS.map((chart) => drawChart(chart, bins, binMs, chosen)));
  }

  /** The top of the y axis: a round number whose half, the middle grid line, is a whole count too. */
  function niceCeiling(value) {
    if (value <= 10) return Math.max(2, 2 * Math.ceil(value / 2));
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 4, 5, 6, 8, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function drawChart(chart, bins, binMs, chosen) {
    // Drawn at about the size it is shown, so that the labels keep the page's text size.
    const W = chart.wide ? 1180 : 580, H = 170, L = 46, R = 10, T = 10, B = 24;
    const plotW = W - L - R, plotH = H - T - B;
    const peak = Math.max(0, ...bins.map((b) => b[chart.key]));
    const top = niceCeiling(peak);
    const y = (v) => T + plotH - (v / top) * plotH;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": chart.title });
    for (const v of [0, top / 2, top]) {
      svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }, root);
      const label = svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, root);
      label.textContent = COMPACT.format(v);
    }
    const bw = plotW / bins.length;
    const gap = bw > 4 ? 1 : 0;
    bins.forEach((b, i) => {
      const value = b[chart.key];
      if (value <= 0) return;
      const x = L + i * bw + gap / 2;
      const width = Math.max(bw - gap, 0.75);
      const group = svg("g", {}, root);
      svg("rect", { x, width, y: y(value), height: y(0) - y(value), class: "bar " + chart.cls }, group);
      if (chart.part) {
        const part = Math.min(value, b[chart.part]);
        if (part > 0) svg("rect", { x, width, y: y(part), height: y(0) - y(part), class: "bar " + chart.partCls }, group);
      }
      const tip = svg("title", {}, group);
      tip.textContent = binLabel(b.at, binMs, chosen) + ": " + chart.tip(b);
    });
    if (peak === 0) {
      const empty = svg("text", { x: L + plotW / 2, y: T + plotH / 2, "text-anchor": "middle", class: "no-data" }, root);
      empty.textContent = "Nothing in this window";
    }
    const axisTime = chosen === "month" ? dayOnly : chosen === "day" ? dayAndTime : timeOnly;
    const ticks = [[0, "start"], [Math.floor(bins.length / 2), "middle"], [bins.length, "end"]];
    for (const [i, anchor] of ticks) {
      const label = svg("text", { x: L + i * bw, y: H - 6, "text-anchor": anchor, class: "axis" }, root);
      label.textContent = axisTime.format(new Date(bins[0].at + i * binMs));
    }
    const heading = el("h3", {}, [chart.title, el("span", { class: "muted", text: "peak " + fmt(peak) })]);
    const children = [heading, root];
    if (chart.legend) {
      children.push(el("div", { class: "legend" }, chart.legend.flatMap(([cls, name]) => [el("span", { class: "swatch " + (cls || "bar") }), name])));
    }
    return el("div", { class: "panel chart" + (chart.wide ? " wide" : ""), "data-testid": "chart-" + chart.key }, children);
  }

  function binLabel(at, binMs, chosen) {
    const format = chosen === "hour" ? timeOnly : dayAndTime;
    return format.format(new Date(at)) + " – " + timeOnly.format(new Date(at + binMs));
  }

  function renderFlagged(data) {
    const clients = (Array.isArray(data.clients) ? data.clients : []).slice();
    clients.sort((a, b) => num(b.flaggedAt) - num(a.flaggedAt));
    const rows = clients.map((client) => {
      const id = String(client.id);
      const reasons = (Array.isArray(client.reasons) ? client.reasons : []).map((r) =>
        el("li", { "data-testid": "reason" }, [
          el("span", { class: "rule", "data-testid": "reason-rule", text: String(r.rule) }),
          el("span", { "data-testid": "reason-message", text: String(r.message) }),
        ]),
      );
      const button = el("button", { type: "button", "data-testid": "clear", text: "Clear" });
      button.addEventListener("click", () => clearFlag(id, button));
      const when = num(client.flaggedAt);
      return el("tr", { "data-testid": "flagged-row", "data-client": id }, [
        el("td", { class: "id" }, [el("code", { text: id })]),
        el("td", { class: "when", title: full.format(new Date(when)) }, [
          el("div", { text: dayAndTime.format(new Date(when)) }),
          el("div", { class: "muted", text: ago(when) }),
        ]),
        el("td", {}, [el("ul", { class: "reasons" }, reasons)]),
        el("td", { class: "action" }, [button]),
      ]);
    });
    document.getElementById("flagged-body").replaceChildren(...rows);
    document.getElementById("flagged-empty").hidden = rows.length > 0;
    const count = $("flagged-count");
    count.textContent = String(rows.length);
    count.classList.toggle("zero", rows.length === 0);
  }

  async function clearFlag(id, button) {
    button.disabled = true;
    button.textContent = "Clearing…";
    try {
      if (!/^[0-9a-fA-F]+$/.test(id)) throw new Error("not a client id: " + id);
      // JSON, so that a cross-site form can never forge this request: the browser would first ask.
      const response = await fetch(BASE + "clients/" + id + "/clear", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}",
      });
      if (!response.ok) throw new Error(describeStatus("clients/" + id + "/clear", response.status));
      errors.delete("clear");
    } catch (error) {
      errors.set("clear", error instanceof Error ? error.message : String(error));
      button.disabled = false;
      button.textContent = "Clear";
    }
    showErrors();
    await Promise.all([loadFlagged(), loadSeries()]);
  }

  function renderDetection(data) {
    const budgets = data.budgets || {};
    setText("budget-max-contacts", fmt(budgets.maxContacts));
    setText("budget-s2-period", fmt(budgets.s2PeriodSeconds) + " s (" + duration(budgets.s2PeriodSeconds) + ")");
    setText("budget-s2-delta", fmt(budgets.s2DeltaSeconds) + " s (" + duration(budgets.s2DeltaSeconds) + ")");
    setText("quarantine-budget", percent(num(data.quarantineBudget), 1));
    const rules = Object.entries(data.rules && typeof data.rules === "object" ? data.rules : {});
    $("rules").replaceChildren(
      ...rules.flatMap(([name, value]) => [
        el("dt", {}, [el("code", { text: name })]),
        el("dd", { "data-testid": "rule-" + name, text: PRECISE.format(num(value)) }),
      ]),
    );
    const norm = data.norm || {};
    const hitRatio = typeof norm.hitRatio === "number" ? percent(norm.hitRatio, 1) : "–";
    setText("norm-hit-ratio", norm.prior ? hitRatio + " (prior: too few syncs to learn from yet)" : hitRatio);
    // A weight that fades with age, not a count: one decimal says enough.
    setText("norm-samples", ROUGH.format(num(norm.samples)));
  }

  function markWindow() {
    for (const b of document.querySelectorAll("[data-window]")) b.setAttribute("aria-pressed", String(b.dataset.window === windowKey));
  }
  for (const b of document.querySelectorAll("[data-window]")) {
    b.addEventListener("click", () => {
      windowKey = b.dataset.window;
      history.replaceState(null, "", "#" + windowKey); // a reload keeps the window
      markWindow();
      loadSeries();
    });
  }
  document.getElementById("refresh").addEventListener("click", refresh);

  markWindow();
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
`;
