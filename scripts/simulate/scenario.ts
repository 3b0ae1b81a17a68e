// One scenario: its options (seed, length, population, number space, Sybil, crowds), the service's
// configuration, and the runs of the regimes compared on it. Importable without running anything:
// scripts/simulate/main.ts is the command line, test/simulate/ a fixed-seed smoke run.

import type { BucketPolicy } from "../../src/core/bucket";
import { type Config, parseConfig } from "../../src/core/config";
import type { Rule } from "../../src/core/flag-rules";
import { normOf } from "../../src/core/hit-ratio-norm";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../src/core/time";
import { CHURN_START, CONTAINED_SHARE, LARGE_BOOKS_PER_TYPICAL, NO_LIMIT_REQUESTS_PER_HOUR, REGISTRATIONS_PER_DAY, REMOVALS_PER_DAY, SINGLE_BUCKET, T0 } from "./assumptions";
import { type Enumerator, type HonestPlan, type HonestResult, type ScenarioView, honestPlans, startCrowd, startEnumerators, startHonest } from "./clients";
import { type Rand, permutation, streamOf } from "./random";
import { type Account, IcdService, PlainService, type Service } from "./services";
import { type BaseDirectory, type ChurnEvent, Clock, Directory, baseDirectory, churnEvents } from "./world";

export interface ScenarioOptions {
  seed: number;
  days: number;
  /** Typical honest clients; a twentieth as many large books come on top. */
  honest: number;
  /** Registered users at the start, drawn from national numbers 0 .. space-1. */
  users: number;
  space: number;
  sybilAccounts: number;
  sybilPerDay: number;
  /** Sizes of the crowds run on their own, each against the production regime with and without egress control. */
  crowds?: number[];
}

/** `npm run simulate` without options. */
export const DEFAULT_OPTIONS: Required<ScenarioOptions> = { seed: 1, days: 30, honest: 1000, users: 1_000_000, space: 10_000_000, sybilAccounts: 200, sybilPerDay: 7, crowds: [100, 1_000, 10_000] };

export type RegimeKey = "none" | "single" | "budgets" | "production";
export type CrowdRegimeKey = "production" | "alerts-only";

/** What egress control did in a run: its episodes and alerts (hours from the start of day 0), and the networks it throttled. */
export interface EgressSummary {
  episodes: { startHours: number; alertHours: number; endHours: number | null }[];
  alerts: { hours: number; episode: "started" | "ended"; revealed: number; limit: number }[];
  /** Minutes from the first abnormal minute of each episode to its end (or the run's). */
  episodeMinutes: number;
  networksThrottled: number;
}

export interface RegimeResult {
  key: string;
  label: string;
  enumerators: ReturnType<Scenario["enumeratorSummary"]>[];
  honest: ReturnType<Scenario["honestSummary"]> | null;
  norm: { day: number; hitRatio: number; samples: number }[];
  throttledNetworks: string[];
  egress: EgressSummary | null;
  seconds: number;
}

/** A crowd's run: the crowd alone with the honest population, on the production regime or with egress control only alerting. */
export interface CrowdResult {
  key: string;
  label: string;
  size: number;
  regime: CrowdRegimeKey;
  crowd: ReturnType<Scenario["crowdSummary"]>;
  honest: ReturnType<Scenario["honestInEpisodes"]>;
  egress: EgressSummary;
  norm: RegimeResult["norm"];
  seconds: number;
}

/** What every regime of a scenario shares: the directory at the start, its churn, the honest clients' plans. */
interface Shared {
  base: BaseDirectory;
  churn: ChurnEvent[];
  plans: HonestPlan[];
  /** Registered users on the last day: the share of the directory an enumerator found is of these. */
  directoryAtEnd: number;
}

const hours = (ms: number) => Math.round((ms / HOUR_MS) * 10) / 10;
/** Hours to the minute's tenth or so: an alert comes minutes after a crowd's first request. */
const fineHours = (ms: number) => Math.round((ms / HOUR_MS) * 1000) / 1000;

export class Scenario implements ScenarioView {
  readonly seed: number;
  readonly days: number;
  readonly honest: number;
  readonly users: number;
  readonly space: number;
  readonly sybilAccounts: number;
  readonly sybilPerDay: number;
  readonly crowds: number[];
  readonly largeBooks: number;
  readonly end: number;
  /** The vars given (wrangler.toml's [env.production] with any overrides), parsed by the service's own parser. */
  readonly production: Config;
  /** The same with QUARANTINE_BUDGET = 1: the rules run, flags change nothing. */
  readonly budgetsOnly: Config;
  /**
   * The production vars with egress control only alerting, as locally: EGRESS_PROBATION_LIMIT at
   * the probation limit (withProbation() then changes nothing) and no network's egress allowance.
   */
  readonly alertsOnly: Config;
  private shared: Shared | undefined;

  constructor({ crowds = [], ...options }: ScenarioOptions, vars: Record<string, unknown>) {
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got ${value}`);
    }
    if (!crowds.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`crowds must be whole numbers above 0, got ${crowds.join(",")}`);
    this.crowds = crowds;
    if (options.users > options.space / 2) throw new Error("--users must be at most half of --space");
    if (options.space * options.space >= 2 ** 53) throw new Error("--space must be below 94 million");
    ({ seed: this.seed, days: this.days, honest: this.honest, users: this.users, space: this.space, sybilAccounts: this.sybilAccounts } = options);
    this.sybilPerDay = Math.max(1, options.sybilPerDay);
    this.largeBooks = Math.round(this.honest / LARGE_BOOKS_PER_TYPICAL);
    this.end = T0 + this.days * DAY_MS;
    this.production = parseConfig(vars);
    this.budgetsOnly = parseConfig({ ...vars, QUARANTINE_BUDGET: 1 });
    this.alertsOnly = parseConfig({ ...vars, EGRESS_PROBATION_LIMIT: this.production.detection.probationLimit, EGRESS_NETWORK_PER_DAY: 1_000_000_000 });
  }

  get maxContacts(): number {
    return this.production.maxContacts;
  }

  /** The scenario's random stream `name`: the same seed and name, the same draws. */
  stream(name: string): Rand {
    return streamOf(this.seed, name);
  }

  /** An order of the number space drawn from the stream `name`. */
  permutation(name: string): (i: number) => number {
    return permutation(this.stream(name), this.space);
  }

  get world(): Shared {
    if (!this.shared) {
      const base = baseDirectory(this.stream("directory"), this.space, this.users);
      const churn = churnEvents(this.stream("churn"), base.registered, { from: CHURN_START, to: this.end, registrationsPerDay: REGISTRATIONS_PER_DAY, removalsPerDay: REMOVALS_PER_DAY });
      const plans = honestPlans(this, base.list, base.registered);
      this.shared = { base, churn, plans, directoryAtEnd: this.users + churn.reduce((n, e) => n + (e.register ? 1 : -1), 0) };
    }
    return this.shared;
  }

  get directoryAtEnd(): number {
    return this.world.directoryAtEnd;
  }

  /** The regimes compared, in the order of the report. */
  readonly regimes: { key: RegimeKey; label: string; withHonest: boolean; make: (d: Directory) => Service }[] = [
    { key: "none", label: "(a) no limits", withHonest: false, make: (d) => new PlainService(d, this.noLimitPolicy(), true, this.production) },
    { key: "single", label: "(b) one bucket, 20,000/day", withHonest: false, make: (d) => new PlainService(d, SINGLE_BUCKET, false, this.production) },
    { key: "budgets", label: "S1/S2 budgets alone", withHonest: true, make: (d) => new IcdService(d, this.budgetsOnly, CHURN_START) },
    { key: "production", label: "S1/S2 + detection, quarantine", withHonest: true, make: (d) => new IcdService(d, this.production, CHURN_START) },
  ];

  private noLimitPolicy(): BucketPolicy {
    return { capacity: NO_LIMIT_REQUESTS_PER_HOUR * this.maxContacts, drainMs: HOUR_MS };
  }

  /** Every regime, in order; `onRegime` hears of each when it is done. */
  run(onRegime?: (result: RegimeResult) => void): RegimeResult[] {
    return this.regimes.map(({ key }) => {
      const result = this.runRegime(key);
      onRegime?.(result);
      return result;
    });
  }

  /** One regime over the whole scenario. */
  runRegime(key: RegimeKey): RegimeResult {
    const regime = this.regimes.find((r) => r.key === key);
    if (!regime) throw new Error(`no regime ${key}`);
    const run = this.simulate(regime.make, regime.withHonest, (service, clock, registeredList) => startEnumerators(this, service, clock, registeredList));
    return {
      key,
      label: regime.label,
      enumerators: run.enumerators.map((e) => this.enumeratorSummary(e)),
      honest: regime.withHonest ? this.honestSummary(run.honest) : null,
      norm: run.norm,
      throttledNetworks: run.service instanceof IcdService ? [...run.service.throttledNetworks] : [],
      egress: run.service instanceof IcdService ? this.egressSummary(run.service) : null,
      seconds: run.seconds,
    };
  }

  /** The crowd runs: each size in `crowds`, with and without egress control; `onRun` hears of each when it is done. */
  runCrowds(onRun?: (result: CrowdResult) => void): CrowdResult[] {
    return this.crowds.flatMap((size) =>
      (["production", "alerts-only"] as const).map((regime) => {
        const result = this.runCrowd(size, regime);
        onRun?.(result);
        return result;
      }),
    );
  }

  /** One crowd of `size` fresh accounts with the honest population and no other enumerator, on the service as `regime` configures it. */
  runCrowd(size: number, regime: CrowdRegimeKey): CrowdResult {
    const config = regime === "production" ? this.production : this.alertsOnly;
    const run = this.simulate((d) => new IcdService(d, config, CHURN_START), true, (service, clock) => [startCrowd(this, service, clock, size)]);
    const service = run.service as IcdService;
    return {
      key: `crowd-${size}-${regime}`,
      label: `${size.toLocaleString("en-US")} accounts, ${regime === "production" ? "production" : "egress alerts only"}`,
      size,
      regime,
      crowd: this.crowdSummary(run.enumerators[0]!, service),
      honest: this.honestInEpisodes(run.honest),
      egress: this.egressSummary(service),
      norm: run.norm,
      seconds: run.seconds,
    };
  }

  /** Runs the service `make` builds, with the honest clients or not, and the enumerators `start` starts, over the whole scenario. */
  simulate(make: (d: Directory) => Service, withHonest: boolean, start: (service: Service, clock: Clock, registeredList: Int32Array) => Enumerator[]) {
    const { base, churn, plans } = this.world; // built once, before the first regime's clock starts
    const t = performance.now();
    const directory = new Directory(base.registered, churn);
    const service = make(directory);
    const clock = new Clock(directory, T0, this.end);
    const honest = withHonest ? plans.map((p, i) => startHonest(this, p, i, service, clock)) : [];
    const enumerators = start(service, clock, base.list);
    const norm: RegimeResult["norm"] = [];
    clock.run((day) => {
      if (day <= T0) return;
      for (const e of enumerators) e.foundByDay.push(e.foundCount);
      if (service instanceof IcdService) {
        const view = normOf(service.norm, day);
        norm.push({ day: (day - T0) / DAY_MS, hitRatio: Math.round(view.hitRatio * 1e4) / 1e4, samples: Math.round(view.samples * 10) / 10 });
      }
    });
    if (service instanceof IcdService) service.finish(this.end);
    return { service, honest, enumerators, norm, seconds: (performance.now() - t) / 1000 };
  }

  egressSummary(service: IcdService): EgressSummary {
    const h = (at: number) => Math.round(((at - T0) / HOUR_MS) * 100) / 100;
    return {
      episodes: service.episodes.map((e) => ({ startHours: h(e.start), alertHours: h(e.alertAt), endHours: e.end === null ? null : h(e.end) })),
      alerts: service.alerts.map((a) => ({ hours: h(a.at), episode: a.episode, revealed: a.revealed, limit: a.limit })),
      episodeMinutes: Math.round(service.episodes.reduce((sum, e) => sum + (e.end ?? this.end) - e.start, 0) / MINUTE_MS),
      networksThrottled: service.egressThrottledNetworks.size,
    };
  }

  /**
   * A crowd's yield, and how fast it was contained: from its first request to the first egress alert
   * after it, and to the hour from which it found less than CONTAINED_SHARE of its first hour's
   * every hour to the end of the run (null: not before the end). Where the crowd's walk of the number
   * space was done by then, that is exhaustion, not containment: `walkDoneHours` says when.
   */
  crowdSummary(e: Enumerator, service: IcdService) {
    const first = e.firstAt;
    // An episode already on when the crowd came (begun by someone else): alerted from its first request.
    const onAtStart = first !== null && service.episodes.some((ep) => ep.alertAt <= first && (ep.end === null || ep.end > first));
    const alert = first === null || onAtStart ? undefined : service.episodes.find((ep) => ep.alertAt >= first);
    const byHour = e.foundByHour;
    const threshold = CONTAINED_SHARE * (byHour[0] ?? 0);
    let last = byHour.length - 1;
    while (last >= 0 && byHour[last]! < threshold) last--;
    const containedAt = first === null || threshold === 0 ? null : first + (last + 1) * HOUR_MS;
    const { foundByDay: _, ...summary } = this.enumeratorSummary(e);
    return {
      ...summary,
      perAccount: e.foundCount / e.accounts.length,
      firstRequestHours: first === null ? null : hours(first - T0),
      episodeOnAtStart: onAtStart,
      firstAlertHours: onAtStart ? 0 : alert && first !== null ? fineHours(alert.alertAt - first) : null,
      containedHours: containedAt !== null && containedAt < this.end ? hours(containedAt - first!) : null,
      walkDoneHours: e.walkDoneAt !== null && first !== null ? fineHours(e.walkDoneAt - first) : null,
      firstHourFound: byHour[0] ?? 0,
      foundByHour: byHour.slice(0, 48),
    };
  }

  /**
   * Honest clients in four cohorts (typical and large books, established before day 0 and new during
   * the run): their syncs, those that started while an egress episode was in force and what those
   * met, flags, and for clients whose first sync started in an episode, whether it completed and
   * the slowest one's hours to do so.
   */
  honestInEpisodes(results: HonestResult[]) {
    const cohort = (books: HonestPlan["cohort"], joined: HonestResult["joined"]) => {
      const rs = results.filter((r) => r.cohort === books && r.joined === joined);
      const firsts = rs.map((r) => r.first).filter((f): f is NonNullable<typeof f> => f !== null && f.inEpisode);
      const done = firsts.filter((f) => f.doneAt !== null);
      return {
        clients: rs.length,
        syncs: rs.reduce((s, r) => s + r.syncs, 0),
        episodeSyncs: rs.reduce((s, r) => s + r.episode.syncs, 0),
        delayed: rs.reduce((s, r) => s + r.episode.delayed, 0),
        refused: rs.reduce((s, r) => s + r.episode.refused, 0),
        flagged: rs.filter((r) => r.flag !== null).length,
        failedSyncs: rs.reduce((s, r) => s + r.failedSyncs, 0),
        firstInEpisode: firsts.length,
        firstCompleted: done.length,
        firstSlowestHours: done.length > 0 ? Math.max(...done.map((f) => hours(f.doneAt! - f.at))) : null,
      };
    };
    return {
      "typical-established": cohort("typical", "established"),
      "typical-new": cohort("typical", "new"),
      "large-established": cohort("large", "established"),
      "large-new": cohort("large", "new"),
    };
  }

  enumeratorSummary(e: Enumerator) {
    const flagged = e.accounts.filter((a) => a.report.flaggedAt !== null);
    const first = flagged.reduce<(typeof flagged)[number] | null>((x, a) => (x === null || a.report.flaggedAt! < x.report.flaggedAt! ? a : x), null);
    const times = flagged.map((a) => a.report.flaggedAt! - a.report.start).sort((x, y) => x - y);
    const rules: Partial<Record<Rule, number>> = {};
    for (const a of flagged) for (const rule of a.report.rules) rules[rule] = (rules[rule] ?? 0) + 1;
    const wouldFire: Partial<Record<Rule, number | null>> = {};
    for (const rule of ["distinct", "hit-ratio", "edge"] as Rule[]) {
      const at = e.accounts.map((a) => (a.report.ruleFirstAt[rule] ?? Infinity) - a.report.start).reduce((x, y) => Math.min(x, y), Infinity);
      wouldFire[rule] = Number.isFinite(at) ? hours(at) : null;
    }
    return {
      key: e.key,
      label: e.label,
      accounts: e.accounts.length,
      accountsFlagged: flagged.length,
      requests: e.requests,
      refusals: e.refusals,
      checked: e.checked,
      found: e.foundCount,
      foundShare: e.foundCount / this.directoryAtEnd,
      /** Of the account flagged first (for a Sybil, sums over every account up to its own flag). */
      firstFlagHours: first ? hours(first.report.flaggedAt! - first.report.start) : null,
      medianFlagHours: times.length > 0 ? hours(times[Math.floor(times.length / 2)]!) : null,
      rules,
      checkedBeforeFlag: e.accounts.reduce((sum, a) => sum + a.report.checkedBeforeFlag, 0),
      foundBeforeFlag: e.accounts.reduce((sum, a) => sum + a.report.foundBeforeFlag, 0),
      /** Hours from an account's start until each rule would first have fired on its signals (the earliest account). */
      wouldFireHours: wouldFire,
      foundByDay: e.foundByDay,
    };
  }

  honestSummary(results: HonestResult[]) {
    const cohort = (name: HonestPlan["cohort"]) => {
      const rs = results.filter((r) => r.cohort === name);
      const flagged = rs.filter((r) => r.flag !== null);
      const byRule: Partial<Record<Rule, number>> = {};
      for (const r of flagged) for (const rule of r.flag!.rules) byRule[rule] = (byRule[rule] ?? 0) + 1;
      const wouldFire: Partial<Record<Rule, number>> = {};
      for (const r of rs) for (const rule of Object.keys(r.account.ruleFirstAt) as Rule[]) wouldFire[rule] = (wouldFire[rule] ?? 0) + 1;
      const hitRatio = ({ signals }: Account) => (signals && signals.identifiers.full > 0 ? signals.matches.full / signals.identifiers.full : null);
      const ratios = rs.map((r) => hitRatio(r.account)).filter((x): x is number => x !== null).sort((a, b) => a - b);
      return {
        clients: rs.length,
        syncs: rs.reduce((s, r) => s + r.syncs, 0),
        requests: rs.reduce((s, r) => s + r.requests, 0),
        refusals: rs.reduce((s, r) => s + r.refusals, 0),
        failedSyncs: rs.reduce((s, r) => s + r.failedSyncs, 0),
        flagged: flagged.length,
        byRule,
        wouldFire,
        lowestFullHitRatio: ratios[0] ?? null,
        examples: flagged
          .sort((a, b) => a.flag!.at - b.flag!.at)
          .slice(0, 10)
          .map((r) => ({ bookSize: r.bookSize, registeredShare: Math.round(r.share * 1000) / 1000, dayFlagged: Math.round(((r.flag!.at - T0) / DAY_MS) * 10) / 10, rules: r.flag!.rules, message: r.flag!.message })),
      };
    };
    return { typical: cohort("typical"), large: cohort("large") };
  }
}
