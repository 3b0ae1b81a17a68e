// `npm run simulate [-- --seed N --days D --honest N --sybil-per-day N --crowds 100,1000 ...]`: how
// well the budgets, the enumeration rules and egress control stop enumerators and crowds of fresh
// accounts, and whether they ever flag or hold up honest clients.
//
// The service's own decisions (src/core: discovery-steps, client-state, detection, admission,
// egress, hit-ratio-norm, bucket, hyperloglog), configured by wrangler.toml's [env.production] vars
// parsed by src/core/config.ts, run in memory on a simulated clock: no Workers runtime, no HTTP (see
// services.ts). Honest clients follow client/src/client.ts (clients.ts). Same seed, same figures.
// Writes docs/simulation.json and docs/simulation.svg; docs/simulation.md says what they show.
// `--no-crowds` leaves the crowd runs out (a quicker run of the regimes alone).

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { chart, figures, report } from "./report";
import { HEADLINE_REGIMES, headlineReport, headlineRow, othersOf } from "./headline";
import { DEFAULT_OPTIONS, Scenario } from "./scenario";

const started = performance.now();
/** The command as typed, without where its output went. */
const command = ["npm run simulate", ...process.argv.slice(2).filter((a, i, all) => a !== "--out" && all[i - 1] !== "--out")].join(" ").replace(/simulate (?=-)/, "simulate -- ");

const d = DEFAULT_OPTIONS;
const { values: opt } = parseArgs({
  options: {
    seed: { type: "string", default: `${d.seed}` },
    days: { type: "string", default: `${d.days}` },
    honest: { type: "string", default: `${d.honest}` },
    users: { type: "string", default: `${d.users}` },
    space: { type: "string", default: `${d.space}` },
    "sybil-accounts": { type: "string", default: `${d.sybilAccounts}` },
    "sybil-per-day": { type: "string", default: `${d.sybilPerDay}` },
    /** Crowd sizes, each run on its own against the production regime with and without egress control. */
    crowds: { type: "string", default: d.crowds.join(",") },
    "no-crowds": { type: "boolean", default: false },
    /** Leaves the headline runs (careful strategies against this service, a Signal-like limiter and none) out. */
    "no-headline": { type: "boolean", default: false },
    out: { type: "string", default: "docs" },
    /** What-if: override a wrangler.toml var, e.g. --set DETECT_EDGE_SYNCS=7 (repeatable). */
    set: { type: "string", multiple: true, default: [] },
  },
});
const int = (name: keyof typeof opt) => {
  const v = Number(opt[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number, got ${opt[name]}`);
  return v;
};
const overrides = Object.fromEntries(
  opt.set!.map((kv) => {
    const [key, value] = kv.split("=");
    if (!key || value === undefined) throw new Error(`--set takes KEY=VALUE, got ${kv}`);
    return [key, value];
  }),
);
const productionVars = { ...(unstable_readConfig({ config: "wrangler.toml", env: "production" }).vars as Record<string, unknown>), ...overrides };
const crowds = opt["no-crowds"] || opt.crowds === "" ? [] : opt.crowds!.split(",").map((c) => Number(c.trim()));
if (!crowds.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--crowds takes sizes separated by commas, e.g. 100,1000, got ${opt.crowds}`);
const scenario = new Scenario(
  { seed: int("seed"), days: int("days"), honest: int("honest"), users: int("users"), space: int("space"), sybilAccounts: int("sybil-accounts"), sybilPerDay: int("sybil-per-day"), crowds },
  productionVars,
);

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
process.stderr.write(`simulating ${scenario.days} days, seed ${scenario.seed}: directory of ${fmt(scenario.users)} in ${fmt(scenario.space)} numbers, ${fmt(scenario.honest)} + ${fmt(scenario.largeBooks)} honest clients\n`);
const results = scenario.run((r) => process.stderr.write(`  ${r.label}: ${r.seconds.toFixed(1)} s\n`));
const crowdResults = scenario.runCrowds((r) => process.stderr.write(`  crowd of ${r.label}: ${r.seconds.toFixed(1)} s\n`));
const headline = opt["no-headline"]
  ? []
  : HEADLINE_REGIMES.map(({ key }) => {
      const row = headlineRow(scenario, key, othersOf(results, crowdResults, key));
      process.stderr.write(`  headline, ${key}: ${row.seconds.toFixed(1)} s\n`);
      return row;
    });
console.log([...(headline.length > 0 ? [headlineReport(scenario, headline)] : []), report(scenario, results, crowdResults)].join("\n\n"));

const outDir = opt.out!;
mkdirSync(outDir, { recursive: true });
const runtimeSeconds = Math.round((performance.now() - started) / 100) / 10;
writeFileSync(path.join(outDir, "simulation.json"), `${JSON.stringify({ headline, ...figures(scenario, results, { command, runtimeSeconds, overrides }, crowdResults) }, null, 1)}\n`);
writeFileSync(path.join(outDir, "simulation.svg"), `${chart(scenario, results, command)}\n`);
process.stderr.write(`wrote ${path.join(outDir, "simulation.json")} and ${path.join(outDir, "simulation.svg")} in ${runtimeSeconds} s\n`);
