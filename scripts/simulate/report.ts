// What a scenario's runs give: the text tables (stdout), the chart (docs/simulation.svg) and the
// figures (docs/simulation.json). Pure string building: main.ts writes them.

import { HOUR_MS, MINUTE_MS } from "../../src/core/time";
import {
  CONTAINED_SHARE,
  CROWD_START_WITHIN,
  EVASIVE_FREE,
  EVASIVE_SEED_KNOWN,
  EVASIVE_TARGET_RATIO,
  JOIN_DURING_RUN,
  NEW_CONTACTS_PER_DAY,
  NO_LIMIT_REQUESTS_PER_HOUR,
  OFFLINE_SHARE,
  REGISTRATIONS_PER_DAY,
  REINSTALL_SHARE,
  REMOVALS_PER_DAY,
  SINGLE_BUCKET,
  SLOW_PER_DAY,
  WARMUP_DAYS,
} from "./assumptions";
import type { CrowdResult, RegimeResult, Scenario } from "./scenario";

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;
const duration = (h: number | null) => (h === null ? "never" : h < 48 ? `${h.toFixed(h < 10 ? 1 : 0)} h` : `${(h / 24).toFixed(1)} d`);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? ` ${"-".repeat(w)} ` : ` ${"-".repeat(w - 1)}: `)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** The tables of docs/simulation.md: the regimes', then the crowds'. */
export function report(scenario: Scenario, results: RegimeResult[], crowds: CrowdResult[] = []): string {
  const parts = [...(results.length > 0 ? [regimeReport(scenario, results)] : []), ...(crowds.length > 0 ? [crowdReport(scenario, crowds)] : [])];
  return parts.join("\n\n");
}

/** The regimes' tables: what each enumerator found, when and why it was flagged, and the honest clients. */
function regimeReport(scenario: Scenario, results: RegimeResult[]): string {
  const { directoryAtEnd, days, production } = scenario;
  const out: string[] = [];
  const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
  out.push(`Registered users found in ${days} days (share of the ${fmt(directoryAtEnd)} registered at the end), per enumerator and regime:\n`);
  out.push(
    table(
      ["enumerator", ...results.map((r) => r.label)],
      results[0]!.enumerators.map((e, i) => [e.label, ...results.map((r) => `${fmt(r.enumerators[i]!.found)} (${pct(r.enumerators[i]!.foundShare)})`)]),
    ),
  );
  for (const key of ["production", "budgets"]) {
    const r = byKey[key];
    if (!r) continue;
    out.push(`\n${r.label}: when and why each enumerator was flagged${key === "budgets" ? " (a flag changes nothing here)" : ""}:\n`);
    out.push(
      table(
        ["enumerator", "accounts flagged", "first flag after", "rule", "checked before flag", "found before flag", "checked in total", "found in total"],
        r.enumerators.map((e) => [
          e.label,
          `${e.accountsFlagged} of ${e.accounts}`,
          duration(e.firstFlagHours),
          Object.keys(e.rules).join(", ") || "-",
          fmt(e.checkedBeforeFlag),
          fmt(e.foundBeforeFlag),
          fmt(e.checked),
          fmt(e.found),
        ]),
      ),
    );
  }
  const b = byKey.budgets;
  if (b) {
    out.push("\nHours from an account's start until each rule would first fire on its own (budgets alone, earliest account):\n");
    out.push(table(["enumerator", "distinct", "hit-ratio", "edge"], b.enumerators.map((e) => [e.label, duration(e.wouldFireHours.distinct ?? null), duration(e.wouldFireHours["hit-ratio"] ?? null), duration(e.wouldFireHours.edge ?? null)])));
  }
  out.push("\nHonest clients:\n");
  const rows: string[][] = [];
  for (const r of results) {
    if (!r.honest) continue;
    for (const [name, c] of Object.entries(r.honest)) {
      rows.push([
        `${r.label}, ${name === "typical" ? "typical books (100-1,000)" : "large books (2,000-25,000)"}`,
        fmt(c.clients),
        fmt(c.syncs),
        fmt(c.refusals),
        `${c.flagged}${c.flagged ? ` (${Object.entries(c.byRule).map(([k, n]) => `${k} ${n}`).join(", ")})` : ""}`,
        fmt(c.failedSyncs),
      ]);
    }
  }
  out.push(table(["regime, cohort", "clients", "syncs", "429s", "flagged", "failed syncs"], rows));
  const p = byKey.production;
  if (p?.honest) {
    for (const ex of [...p.honest.typical.examples, ...p.honest.large.examples].slice(0, 5)) {
      out.push(`  flagged honest client: ${fmt(ex.bookSize)} contacts, ${pct(ex.registeredShare)} registered, day ${ex.dayFlagged}: ${ex.message}`);
    }
    const norm = p.norm;
    out.push(`\nLearned norm (production): ${pct(norm[0]?.hitRatio ?? 0)} on day 1, ${pct(norm.at(-1)?.hitRatio ?? 0)} on day ${norm.at(-1)?.day}; hit-ratio threshold ${pct((norm.at(-1)?.hitRatio ?? 0) * production.detection.hitRatioFactor)}.`);
    if (p.egress) out.push(`Egress episodes (production, these enumerators): ${p.egress.episodes.length}${p.egress.episodes.length ? `, ${fmt(p.egress.episodeMinutes)} min in all` : ""}; networks throttled for egress: ${p.egress.networksThrottled}.`);
  }
  return out.join("\n");
}

const hoursCell = (h: number | null) => (h === null ? "never" : h === 0 ? "0 min" : h < 1 ? `${(h * 60).toFixed(h < 1 / 6 ? 1 : 0)} min` : duration(h));

/** The crowd runs' tables: what each crowd found and how soon it was contained, and what honest clients met meanwhile. */
function crowdReport(scenario: Scenario, crowds: CrowdResult[]): string {
  const out: string[] = [];
  out.push(
    `Crowds of fresh accounts, one network each, all starting in the first ${hoursCell(CROWD_START_WITHIN / HOUR_MS)} of day 0, each run alone with the honest clients (registered users found, share of the ${fmt(scenario.directoryAtEnd)} registered at the end; times from the crowd's first request):\n`,
  );
  out.push(
    table(
      ["crowd, regime", "found", "per account", "share", "accounts flagged", "egress episodes", "first alert after", `under ${pct(CONTAINED_SHARE)} of first hour after`, "walk done after"],
      crowds.map(({ label, crowd: c, egress }) => [
        label,
        fmt(c.found),
        fmt(c.perAccount),
        pct(c.foundShare),
        `${fmt(c.accountsFlagged)} of ${fmt(c.accounts)}`,
        `${egress.episodes.length}${egress.episodes.length ? ` (${fmt(egress.episodeMinutes)} min)` : ""}`,
        c.episodeOnAtStart ? "on already" : hoursCell(c.firstAlertHours),
        hoursCell(c.containedHours),
        hoursCell(c.walkDoneHours),
      ]),
    ),
  );
  out.push(
    "\nHonest clients in the crowd runs (established: first sync before day 0; new: joined during the run). A sync after the client's first is in an episode when it started while one was in force; delayed: it met a 429 with Retry-After, refused: one without. Last columns: clients whose first sync started in an episode (for the established cohort, in the week before day 0), how many of those completed it, and the slowest one's time to do so:\n",
  );
  const rows: string[][] = [];
  for (const { label, honest } of crowds) {
    for (const [name, c] of Object.entries(honest)) {
      rows.push([
        `${label}, ${name.replace("-", " books, ")}`,
        fmt(c.clients),
        fmt(c.syncs),
        fmt(c.episodeSyncs),
        fmt(c.delayed),
        fmt(c.refused),
        fmt(c.flagged),
        fmt(c.firstInEpisode),
        fmt(c.firstCompleted),
        c.firstSlowestHours !== null ? hoursCell(c.firstSlowestHours) : "-",
      ]);
    }
  }
  out.push(table(["crowd, regime, cohort", "clients", "syncs", "in an episode", "delayed", "refused", "flagged", "first sync in an episode", "completed", "slowest"], rows));
  return out.join("\n");
}

const COLORS = ["#9e9e9e", "#f4a259", "#5b8e7d", "#bc4b51"];

/** docs/simulation.svg: registered users found per enumerator and regime, on a log scale. */
export function chart(scenario: Scenario, results: RegimeResult[], command: string): string {
  const { directoryAtEnd, days, space, honest } = scenario;
  const W = 960;
  const H = 460;
  const left = 70;
  const right = 20;
  const top = 60;
  const bottom = 110;
  const plotH = H - top - bottom;
  const plotW = W - left - right;
  const max = 2 * directoryAtEnd; // the axis ends a little above the whole directory
  const y = (v: number) => top + plotH - (Math.log10(Math.max(1, v)) / Math.log10(max)) * plotH;
  const groups = results[0]!.enumerators.length;
  const groupW = plotW / groups;
  const barW = (groupW * 0.8) / results.length;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const short = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${Math.round(v / 1e3)}k` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${v}`);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">Registered users found in ${days} days, per enumerator and regime (log scale)</text>`);
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(command)}: ${fmt(space)} numbers, ${fmt(honest)} honest clients</text>`);
  for (let e = 0; 10 ** e <= max; e++) {
    const yy = y(10 ** e);
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" fill="#555">${["1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M"][e]}</text>`);
  }
  const whole = y(directoryAtEnd);
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${whole}" y2="${whole}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<line x1="${left + plotW / 2}" x2="${left + plotW / 2 + 12}" y1="${H - 20}" y2="${H - 20}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${left + plotW / 2 + 18}" y="${H - 16}">whole directory (${fmt(directoryAtEnd)} registered at the end)</text>`);
  results[0]!.enumerators.forEach((e, g) => {
    const x0 = left + g * groupW + groupW * 0.1;
    results.forEach((r, i) => {
      const v = r.enumerators[g]!.found;
      const x = x0 + i * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${e.label}, ${r.label}: ${fmt(v)}`)}</title></rect>`);
      parts.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(y(v) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${short(v)}</text>`);
    });
    const words = e.label.split(" (");
    parts.push(`<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${esc(words[0]!)}</text>`);
    if (words[1]) parts.push(`<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 33}" text-anchor="middle" fill="#555" font-size="10">(${esc(words[1])}</text>`);
  });
  results.forEach((r, i) => {
    const x = left + (i % 2) * (plotW / 2);
    const yy = H - 52 + Math.floor(i / 2) * 18;
    parts.push(`<rect x="${x}" y="${yy - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 18}" y="${yy}">${esc(r.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** docs/simulation.json: the command, the inputs and every regime's and crowd's results. */
export function figures(
  scenario: Scenario,
  results: RegimeResult[],
  { command, runtimeSeconds, overrides }: { command: string; runtimeSeconds: number; overrides: Record<string, string> },
  crowds: CrowdResult[] = [],
) {
  const { production, budgetsOnly, alertsOnly, maxContacts } = scenario;
  return {
    command,
    seed: scenario.seed,
    days: scenario.days,
    runtimeSeconds,
    directory: { space: scenario.space, users: scenario.users, usersAtEnd: scenario.directoryAtEnd, registrationsPerDay: REGISTRATIONS_PER_DAY, removalsPerDay: REMOVALS_PER_DAY },
    overrides,
    config: { production: { ...production, adminToken: undefined }, budgetsOnly: { quarantineBudget: budgetsOnly.quarantineBudget }, alertsOnly: { egress: alertsOnly.egress } },
    assumptions: {
      warmupDays: WARMUP_DAYS,
      honest: { typical: scenario.honest, large: scenario.largeBooks, joinDuringRun: JOIN_DURING_RUN, newContactsPerDay: NEW_CONTACTS_PER_DAY, reinstallShare: REINSTALL_SHARE, offlineShare: OFFLINE_SHARE },
      noLimits: `${NO_LIMIT_REQUESTS_PER_HOUR} requests of ${maxContacts} per hour per account`,
      singleBucket: SINGLE_BUCKET,
      sybil: { accounts: scenario.sybilAccounts, perDay: scenario.sybilPerDay, network: "one" },
      slowPerDay: SLOW_PER_DAY,
      evasive: { targetHitRatio: EVASIVE_TARGET_RATIO, seedKnown: EVASIVE_SEED_KNOWN, leavesFree: EVASIVE_FREE },
      crowds: {
        sizes: scenario.crowds,
        start: `each account at a uniformly random moment in the first ${CROWD_START_WITHIN / MINUTE_MS} minutes of day 0`,
        networks: "one per account (no ASN: the per-ASN allowances are not modelled)",
        walk: "one shared random order of the number space, greedy as the Sybil",
        containedShare: CONTAINED_SHARE,
        runs: "each crowd alone with the honest clients, on the production regime and with egress control only alerting",
      },
    },
    regimes: results,
    crowds,
  };
}
