// The careful strategies (scripts/simulate/careful.ts) and the headline regimes
// (scripts/simulate/headline.ts) on a fixed-seed scenario small enough for the suite (4 days, 63
// honest clients, 25,000 users in 500,000 numbers): the Signal-CDSI-like limiter's token bucket, and
// what sleepers, padded crowds and CRM-book mimics reveal against it, against no limit, and against
// the service's production configuration (novelty limit on), with the honest cohorts in the same runs.

import { beforeAll, describe, expect, it } from "vitest";
import { HOUR_MS } from "../../src/core/time";
import { T0 } from "../../scripts/simulate/assumptions";
import { SIGNAL_LIKE, SignalLikeService } from "../../scripts/simulate/careful";
import { CAREFUL_CROWD, type HeadlineRow, headlineReport, headlineRow } from "../../scripts/simulate/headline";
import { Scenario } from "../../scripts/simulate/scenario";
import { newAccount } from "../../scripts/simulate/services";
import { Directory } from "../../scripts/simulate/world";
import { PRODUCTION_VARS_WITH_NOVELTY as PRODUCTION_VARS } from "./production-vars";

const OPTIONS = { seed: 1, days: 4, honest: 60, users: 25_000, space: 500_000, sybilAccounts: 0, sybilPerDay: 1 };
const DENSITY = OPTIONS.users / OPTIONS.space;
const HOURS = OPTIONS.days * 24;

describe("the Signal-CDSI-like limiter", () => {
  it("takes 50,000 new numbers, then 6 an hour; re-asking is free", () => {
    const scenario = new Scenario(OPTIONS, PRODUCTION_VARS);
    const service = new SignalLikeService(new Directory(new Uint8Array(OPTIONS.space), []), 20_000, 864_000_000);
    const a = newAccount("a", "net");
    const range = (from: number, n: number) => Int32Array.from({ length: n }, (_, i) => from + i);
    for (let k = 0; k < 2; k++) expect(service.discover(a, "full", range(k * 20_000, 20_000), T0).ok).toBe(true);
    expect(service.fits(a, "full", T0)).toBe(10_000);
    expect(service.discover(a, "full", range(40_000, 10_000), T0).ok).toBe(true);
    const refused = service.discover(a, "full", range(50_000, 1), T0);
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 600 }); // one new number: a sixth of an hour
    for (let k = 0; k < 3; k++) expect(service.discover(a, "full", range(0, 20_000), T0).ok).toBe(true); // asked before: free
    expect(service.fits(a, "full", T0 + HOUR_MS)).toBe(SIGNAL_LIKE.perHour);
    expect(service.discover(a, "full", range(50_000, 7), T0 + HOUR_MS).ok).toBe(false);
    expect(service.discover(a, "full", range(50_000, 6), T0 + HOUR_MS).ok).toBe(true);
    // Another account has its own bucket.
    expect(service.fits(newAccount("b", "net"), "full", T0)).toBe(20_000);
    expect(scenario.maxContacts).toBe(20_000);
  });
});

describe("the headline regimes, seed 1", () => {
  let scenario: Scenario;
  const rows: Record<string, HeadlineRow> = {};
  const strategy = (regime: string, key: string) => rows[regime]!.strategies.find((s) => s.key === key)!;
  beforeAll(() => {
    scenario = new Scenario(OPTIONS, PRODUCTION_VARS);
    for (const regime of ["production", "signal", "none"] as const) rows[regime] = headlineRow(scenario, regime);
  }, 120_000);

  it("no limit: one account of any careful kind finds the whole directory but what the crowd knew", () => {
    for (const kind of ["sleeper", "padded", "crm"]) {
      const s = strategy("none", `${kind}-1`);
      expect(s.found, kind).toBeGreaterThan(0.85 * OPTIONS.users);
      expect(s.refusals, kind).toBe(0);
    }
  });

  it("Signal-like: one account reveals what 50,000 new numbers and 6 an hour hold, whatever its kind; a crowd of 100 a hundred times that", () => {
    const newNumbers = SIGNAL_LIKE.capacity + SIGNAL_LIKE.perHour * HOURS;
    for (const kind of ["sleeper", "padded", "crm"]) {
      const one = strategy("signal", `${kind}-1`);
      expect(one.perAccount, kind).toBeGreaterThan(0.7 * DENSITY * newNumbers);
      expect(one.perAccount, kind).toBeLessThan(1.1 * DENSITY * newNumbers);
      const crowd = strategy("signal", `${kind}-${CAREFUL_CROWD}`);
      expect(crowd.accounts).toBe(CAREFUL_CROWD);
      expect(crowd.flagged).toBe(0);
    }
    expect(rows.signal!.best.perAccount).toBeLessThan(rows.none!.best.perAccount);
  });

  it("production: each careful account alone reveals less than against the Signal-like limiter (the crowds of 100 exhaust this small space under both)", () => {
    for (const kind of ["sleeper", "padded", "crm"]) {
      expect(strategy("production", `${kind}-1`).perAccount, kind).toBeLessThan(strategy("signal", `${kind}-1`).perAccount);
      expect(strategy("production", `${kind}-${CAREFUL_CROWD}`).perAccount, kind).toBeLessThanOrEqual(strategy("signal", `${kind}-${CAREFUL_CROWD}`).perAccount);
    }
    expect(rows.production!.accountsFor1Percent).toBeGreaterThan(rows.signal!.accountsFor1Percent);
  });

  it("honest typical books are never refused nor flagged, in any regime; against the limiters without rules nothing honest is", () => {
    for (const regime of ["production", "signal", "none"]) {
      const h = rows[regime]!.honest;
      expect(h.typical.clients).toBe(60);
      expect(h.typical.flagged, regime).toBe(0);
      expect(h.typical.failedSyncs, regime).toBe(0);
    }
    for (const regime of ["signal", "none"]) {
      const h = rows[regime]!.honest;
      for (const c of Object.values(h)) expect(c.refused, regime).toBe(0);
      expect(h.large.firstCompleted).toBe(h.large.clients);
    }
  });

  it("reports the headline table with a row per regime", () => {
    const text = headlineReport(scenario, Object.values(rows));
    for (const label of ["this service", "Signal-CDSI-like", "no limit"]) expect(text).toContain(label);
  });
});
