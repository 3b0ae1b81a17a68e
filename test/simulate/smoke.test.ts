// A fixed-seed run of `npm run simulate`'s two regimes of the service itself, small enough for the
// suite (3 days, 63 honest clients, 500,000 numbers): the simulation runs the service's own decisions
// (src/core), so if a decision or the simulation around it breaks, these outcomes move.

import { beforeAll, describe, expect, it } from "vitest";
import { chart, report } from "../../scripts/simulate/report";
import { type RegimeResult, Scenario } from "../../scripts/simulate/scenario";

/** wrangler.toml's [env.production] vars when this was written (the simulation reads them from there). */
const PRODUCTION_VARS = {
  MAX_CONTACTS: 20000,
  S2_PERIOD: 86400,
  S2_DELTA: 864000,
  TEST_HOOKS: false,
  REGISTRATION: "admin",
  GUARD: true,
  GUARD_REGISTRATIONS_PER_HOUR: 10,
  DETECT_MAX_DISTINCT: 30000,
  DETECT_MIN_VOLUME: 2000,
  DETECT_HIT_RATIO_FACTOR: 0.25,
  DETECT_EDGE_SYNCS: 7,
  DETECT_PROBATION_LIMIT: 5000,
  DETECT_NETWORK_ACCOUNTS_PER_DAY: 20,
  DETECT_ASN_ACCOUNTS_PER_DAY: 2000,
  QUARANTINE_BUDGET: 0,
};
// 5% of the numbers registered: random numbers' hit ratio is well below the threshold (a quarter of
// the honest norm, about 9%), so the naive enumerators are caught by it on their first request. The
// Sybil makes 40 new accounts a day from one network, twice its allowance.
const OPTIONS = { seed: 1, days: 3, honest: 60, users: 25_000, space: 500_000, sybilAccounts: 45, sybilPerDay: 40 };
const PROBATION = PRODUCTION_VARS.DETECT_PROBATION_LIMIT;

let scenario: Scenario;
let result: RegimeResult;
let budgets: RegimeResult;
const enumerator = (key: string, of = result) => of.enumerators.find((e) => e.key === key)!;

beforeAll(() => {
  scenario = new Scenario(OPTIONS, PRODUCTION_VARS);
  result = scenario.runRegime("production");
  budgets = scenario.runRegime("budgets");
}, 60_000);

describe("the simulation, seed 1, production regime", () => {
  it("flags the random, sequential and every Sybil account by hit ratio on its first request, held to the probation limit", () => {
    for (const key of ["random", "sequential", "sybil"]) {
      const e = enumerator(key);
      expect(e.accountsFlagged, key).toBe(e.accounts);
      expect(e.rules, key).toEqual({ "hit-ratio": e.accounts });
      expect(e.firstFlagHours, key).toBe(0);
      expect(e.medianFlagHours, key).toBe(0);
      expect(e.checkedBeforeFlag, key).toBe(e.accounts * PROBATION);
    }
    expect(enumerator("sybil").accounts).toBe(45);
  });

  it("quarantines them: a flagged account's full syncs are refused (the random one keeps only the incremental endpoint)", () => {
    expect(enumerator("sequential").checked).toBe(PROBATION);
    expect(enumerator("sybil").checked).toBe(45 * PROBATION);
    expect(enumerator("slow").checked).toBe(enumerator("slow").checkedBeforeFlag);
    expect(enumerator("random").checked).toBeGreaterThan(PROBATION);
  });

  it("flags the slow enumerator on its second daily sync, once it has checked DETECT_MIN_VOLUME", () => {
    expect(enumerator("slow")).toMatchObject({ accountsFlagged: 1, rules: { "hit-ratio": 1 }, firstFlagHours: 24, checkedBeforeFlag: 3000 });
  });

  it("does not catch the evasive one in three days: padding beats the hit ratio, leaving 5% free beats the edge rule", () => {
    expect(enumerator("evasive")).toMatchObject({ accountsFlagged: 0, refusals: 0 });
    expect(enumerator("evasive").checked).toBeLessThan(PRODUCTION_VARS.DETECT_MAX_DISTINCT);
  });

  it("throttles the Sybil's network, and refunds the accounts it turned away so that each still gets its first request", () => {
    expect(result.throttledNetworks).toEqual(["sybil-net"]);
    expect(enumerator("sybil").refusals).toBeGreaterThan(0);
    // Without the refund, an account refused by its network keeps the charge, so its later requests
    // are cut to what is left under the probation limit: smaller, noisier samples, and some accounts
    // slip past the hit-ratio rule (37 of 45 flagged, 323,419 checked, when tried).
    expect(enumerator("sybil").checkedBeforeFlag).toBe(45 * PROBATION);
  });

  it("never flags an honest client, nor fails one of their syncs", () => {
    for (const cohort of [result.honest!.typical, result.honest!.large]) {
      expect(cohort).toMatchObject({ flagged: 0, failedSyncs: 0, byRule: {}, wouldFire: {} });
    }
    expect(result.honest!.typical).toMatchObject({ clients: 60, refusals: 0 });
    expect(result.honest!.large.clients).toBe(3);
  });

  it("with the budgets alone (a flag changes nothing), flags the same way but lets the enumerators go on", () => {
    for (const key of ["random", "sequential"]) {
      expect(enumerator(key, budgets), key).toMatchObject({ accountsFlagged: 1, rules: { "hit-ratio": 1 }, firstFlagHours: 0, checkedBeforeFlag: PROBATION });
      expect(enumerator(key, budgets).checked, key).toBeGreaterThan(4 * PROBATION);
    }
    expect(enumerator("sybil", budgets).found).toBeGreaterThan(2 * enumerator("sybil").found);
  });

  it("learns the norm from honest full syncs only: flagged clients, still syncing with the budgets alone, do not teach it", () => {
    // Every enumerator account that synced in full here was flagged, but for the evasive one, which
    // does the same in both regimes; so both regimes learn the same norm, the honest clients' one.
    expect(budgets.norm).toEqual(result.norm);
    for (const day of result.norm) expect(day.hitRatio).toBeGreaterThan(0.3);
  });

  it("gives the figures it gave when written, so that a change of behaviour shows", () => {
    expect(result.enumerators.map((e) => [e.key, e.found, e.checked, e.requests, e.refusals])).toEqual([
      ["random", 713, 84_166, 73, 0],
      ["sequential", 252, 5_000, 1, 0],
      ["sybil", 11_988, 225_000, 190, 145],
      ["slow", 166, 3_000, 3, 1],
      ["evasive", 1_561, 24_400, 14, 0],
    ]);
    const { typical, large } = result.honest!;
    expect([typical.syncs, typical.requests, large.syncs, large.requests, large.refusals]).toEqual([389, 443, 27, 36, 2]);
    expect(result.norm).toEqual([
      { day: 1, hitRatio: 0.3662, samples: 48.6 },
      { day: 2, hitRatio: 0.3564, samples: 47 },
      { day: 3, hitRatio: 0.3457, samples: 48.2 },
    ]);
    expect(budgets.enumerators.map((e) => [e.key, e.found, e.checked, e.requests, e.accountsFlagged])).toEqual([
      ["random", 1_845, 105_082, 145, 1],
      ["sequential", 1_418, 25_916, 73, 1],
      ["sybil", 26_729, 500_000, 176, 25],
      ["slow", 256, 4_500, 3, 1],
      ["evasive", 1_561, 24_400, 14, 0],
    ]);
    expect(scenario.directoryAtEnd).toBe(27_000);
  });

  it("reports them: the tables and the chart", () => {
    const text = report(scenario, [budgets, result]);
    expect(text).toContain("| 3. Sybil (45 accounts, 40/day, one network) |");
    expect(text).toContain("45 of 45");
    expect(chart(scenario, [budgets, result], "smoke")).toMatch(/^<svg[\s\S]*<\/svg>$/);
  });
});
