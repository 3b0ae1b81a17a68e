// The operator dashboard as one self-contained HTML document, with no external assets (operators'
// machines may be offline); it inlines the script compiled from dashboard/script.ts.

import { DASHBOARD_SCRIPT } from "./dashboard/script-text";

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
<script nonce="${nonce}">${DASHBOARD_SCRIPT}</script>
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
