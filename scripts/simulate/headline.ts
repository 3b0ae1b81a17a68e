// The headline (issue 23): per regime, the users one verified account reveals in the run (the
// maximum over the careful strategies and, for the service, the strategies of the regime and crowd
// runs), the accounts it takes to reveal 1% of a directory of a billion, and the honest cohorts.

import { HOUR_MS } from "../../src/core/time";
import { CHURN_START, NO_LIMIT_REQUESTS_PER_HOUR } from "./assumptions";
import { type CarefulKind, SignalLikeService, carefulLabel, startCareful } from "./careful";
import type { Enumerator, HonestResult } from "./clients";
import type { CrowdResult, RegimeResult, Scenario } from "./scenario";
import { IcdService, PlainService, type Service } from "./services";
import type { Directory } from "./world";

export type HeadlineRegime = "production" | "signal" | "none";
export const HEADLINE_REGIMES: { key: HeadlineRegime; label: string }[] = [
  { key: "production", label: "this service (wrangler.toml [env.production])" },
  { key: "signal", label: "Signal-CDSI-like (50,000 new numbers, +6/h)" },
  { key: "none", label: "no limit (WhatsApp before Oct 2025)" },
];
/** The careful strategies: each kind alone and as a crowd of CAREFUL_CROWD accounts on as many networks. */
export const CAREFUL_CROWD = 100;
export const CAREFUL_STRATEGIES: { kind: CarefulKind; accounts: number }[] = (["sleeper", "padded", "crm"] as CarefulKind[]).flatMap((kind) => [
  { kind, accounts: 1 },
  { kind, accounts: CAREFUL_CROWD },
]);
/** 1% of a directory of a billion users. */
export const TARGET_USERS = 10_000_000;

export interface StrategyFigure {
  key: string;
  label: string;
  accounts: number;
  found: number;
  perAccount: number;
  flagged: number;
  /** The rules that flagged its accounts, with how many each. */
  rules: string;
  refusals: number;
}

export interface HonestCohort {
  clients: number;
  /** Clients that met at least one 429, and the syncs that ended in the client's error. */
  refused: number;
  failedSyncs: number;
  flagged: number;
  /** Clients whose first sync completed, and the slowest one's hours from its first request. */
  firstCompleted: number;
  firstSlowestHours: number | null;
}

export interface HeadlineRow {
  regime: HeadlineRegime;
  label: string;
  strategies: StrategyFigure[];
  best: StrategyFigure;
  /** Accounts needed to reveal TARGET_USERS at `best.perAccount` each. */
  accountsFor1Percent: number;
  honest: Record<"typical" | "large" | "reinstalled" | "offline", HonestCohort>;
  seconds: number;
}

const hours = (ms: number) => Math.round((ms / HOUR_MS) * 10) / 10;

function rulesOf(rules: string[]): string {
  const n = new Map<string, number>();
  for (const r of rules) n.set(r, (n.get(r) ?? 0) + 1);
  return [...n].map(([r, k]) => `${r} ${k}`).join(", ");
}

function figureOf(e: Enumerator): StrategyFigure {
  return {
    key: e.key,
    label: e.label,
    accounts: e.accounts.length,
    found: e.foundCount,
    perAccount: Math.round(e.foundCount / Math.max(1, e.accounts.length)),
    flagged: e.accounts.filter((a) => a.report.flaggedAt !== null).length,
    rules: rulesOf(e.accounts.flatMap((a) => a.report.rules)),
    refusals: e.refusals,
  };
}

function honestCohorts(scenario: Scenario, results: HonestResult[]): HeadlineRow["honest"] {
  const plans = scenario.world.plans;
  const of = (pick: (i: number) => boolean): HonestCohort => {
    const rs = results.filter((_, i) => pick(i));
    const done = rs.map((r) => r.first).filter((f): f is NonNullable<typeof f> => f !== null && f.doneAt !== null);
    return {
      clients: rs.length,
      refused: rs.filter((r) => r.refusals > 0).length,
      failedSyncs: rs.reduce((s, r) => s + r.failedSyncs, 0),
      flagged: rs.filter((r) => r.flag !== null).length,
      firstCompleted: done.length,
      firstSlowestHours: done.length > 0 ? Math.max(...done.map((f) => hours(f.doneAt! - f.at))) : null,
    };
  };
  return {
    typical: of((i) => plans[i]!.cohort === "typical"),
    large: of((i) => plans[i]!.cohort === "large"),
    reinstalled: of((i) => plans[i]!.reinstallAt !== null && plans[i]!.reinstallAt! < scenario.end),
    offline: of((i) => plans[i]!.offline !== null && plans[i]!.offline![1] < scenario.end),
  };
}

function serviceOf(scenario: Scenario, regime: HeadlineRegime): (d: Directory) => Service {
  switch (regime) {
    case "production":
      return (d) => new IcdService(d, scenario.production, CHURN_START);
    case "signal":
      return (d) => new SignalLikeService(d, scenario.maxContacts, scenario.production.s2DeltaMs);
    case "none":
      return (d) => new PlainService(d, { capacity: NO_LIMIT_REQUESTS_PER_HOUR * scenario.maxContacts, drainMs: HOUR_MS }, true, scenario.production);
  }
}

/**
 * One regime's headline row. The service's careful strategies run one per run (egress control is
 * global: one crowd's episode would hold another's accounts); against the limiters without global
 * state, all in one run. The honest population is in every run; its figures are of the first.
 * `others`: the per-account figures of the regime's other strategies (the regime and crowd runs).
 */
export function headlineRow(scenario: Scenario, regime: HeadlineRegime, others: StrategyFigure[] = []): HeadlineRow {
  const t = performance.now();
  const make = serviceOf(scenario, regime);
  const strategies: StrategyFigure[] = [];
  let honest: HonestResult[] | null = null;
  const groups = regime === "production" ? CAREFUL_STRATEGIES.map((s) => [s]) : [CAREFUL_STRATEGIES];
  for (const group of groups) {
    const run = scenario.simulate(make, true, (service, clock, registeredList) => group.map((s) => startCareful(scenario, service, clock, registeredList, s.kind, s.accounts)));
    honest ??= run.honest;
    strategies.push(...run.enumerators.map(figureOf));
  }
  const all = [...strategies, ...others];
  const best = all.reduce((x, y) => (y.perAccount > x.perAccount ? y : x));
  return {
    regime,
    label: HEADLINE_REGIMES.find((r) => r.key === regime)!.label,
    strategies: all,
    best,
    accountsFor1Percent: best.perAccount > 0 ? Math.ceil(TARGET_USERS / best.perAccount) : Infinity,
    honest: honestCohorts(scenario, honest!),
    seconds: (performance.now() - t) / 1000,
  };
}

/** The regime and crowd runs' strategies as headline figures (for the regime `key`). */
export function othersOf(results: RegimeResult[], crowds: CrowdResult[], key: string): StrategyFigure[] {
  const fromRegime = (results.find((r) => r.key === key)?.enumerators ?? []).map((e) => ({
    key: e.key,
    label: e.label,
    accounts: e.accounts,
    found: e.found,
    perAccount: Math.round(e.found / Math.max(1, e.accounts)),
    flagged: e.accountsFlagged,
    rules: Object.entries(e.rules).map(([r, k]) => `${r} ${k}`).join(", "),
    refusals: e.refusals,
  }));
  const fromCrowds = key === "production" ? crowds.filter((c) => c.regime === "production").map((c) => ({ key: c.key, label: `crowd of ${c.size.toLocaleString("en-US")} (greedy)`, accounts: c.crowd.accounts, found: c.crowd.found, perAccount: Math.round(c.crowd.perAccount), flagged: c.crowd.accountsFlagged, rules: Object.entries(c.crowd.rules).map(([r, k]) => `${r} ${k}`).join(", "), refusals: c.crowd.refusals })) : [];
  return [...fromRegime, ...fromCrowds];
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: 0 }) : "∞");

/** The headline tables (markdown). */
export function headlineReport(scenario: Scenario, rows: HeadlineRow[]): string {
  const cap = `${fmt(scenario.users)} users`;
  const head = [
    `### Headline: users revealed per verified account in ${scenario.days} days (the best strategy)`,
    "",
    `| regime | per account | strategy | accounts to reveal 1% of 1 billion (10 M) |`,
    `| --- | ---: | --- | ---: |`,
    ...rows.map((r) => `| ${r.label} | ${fmt(r.best.perAccount)}${r.best.perAccount >= scenario.users * 0.9 ? ` (the whole simulated directory of ${cap})` : ""} | ${r.best.label} | ${fmt(r.accountsFor1Percent)} |`),
    "",
    "Honest clients in the same runs (clients refused at least once / syncs failed / flagged; first sync: completed, slowest in hours):",
    "",
    "| regime | typical books | large books (2,000 to 25,000) | reinstalled | back after weeks offline | large book's first sync, slowest |",
    "| --- | --- | --- | --- | --- | ---: |",
    ...rows.map((r) => {
      const c = (x: HonestCohort) => `${x.clients}: ${x.refused} / ${x.failedSyncs} / ${x.flagged}`;
      const h = r.honest;
      return `| ${r.label} | ${c(h.typical)} | ${c(h.large)} | ${c(h.reinstalled)} | ${c(h.offline)} | ${h.large.firstCompleted}/${h.large.clients} done, ${h.large.firstSlowestHours ?? "–"} h |`;
    }),
    "",
    "Every strategy, per regime (found: distinct users over the strategy's accounts):",
    "",
    "| regime | strategy | accounts | found | per account | flagged (rules) | refusals |",
    "| --- | --- | ---: | ---: | ---: | --- | ---: |",
    ...rows.flatMap((r) => r.strategies.map((s) => `| ${r.regime} | ${s.label} | ${fmt(s.accounts)} | ${fmt(s.found)} | ${fmt(s.perAccount)} | ${fmt(s.flagged)}${s.rules ? ` (${s.rules})` : ""} | ${fmt(s.refusals)} |`)),
  ];
  return head.join("\n");
}
