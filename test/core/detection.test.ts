// The per-client enumeration rules, on signals built with explicit clocks.

import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config";
import { type Signals, atEdge, decideCharge, emptySignals, evaluateRules, fullSyncLimit, recordAnswer, recordRefusal } from "../../src/core/detection";

const config = { maxDistinct: 30_000, minVolume: 2_000, hitRatioFactor: 0.25, edgeSyncs: 3, probationLimit: 20_000 };
const T0 = 1_800_000_000_000;

function after(syncs: { kind?: "full" | "incremental"; n: number; matches: number; edge?: boolean }[]): Signals {
  return syncs.reduce(
    (s, { kind = "full", n, matches, edge = false }, i) => recordAnswer(s, { kind, identifiers: n, matches, edge }, T0 + i),
    emptySignals(T0),
  );
}
const rules = (s: Signals, distinct: number, norm: number | null) => evaluateRules(s, distinct, norm, config).map((r) => r.rule);

describe("the rules", () => {
  it("leave an honest address book alone: a few hundred contacts, a third of them registered", () => {
    const s = after([{ n: 600, matches: 200 }, { kind: "incremental", n: 600, matches: 3 }, { n: 5, matches: 2 }]);
    expect(rules(s, 605, 0.4)).toEqual([]);
  });

  it("flag more distinct identifiers than any address book, and explain", () => {
    const s = after([{ n: 20_000, matches: 8_000 }]);
    expect(rules(s, 30_000, 0.4)).toEqual([]);
    const [reason] = evaluateRules(s, 30_001, 0.4, config);
    expect(reason).toMatchObject({ rule: "distinct", value: 30_001, threshold: 30_000 });
    expect(reason!.message).toContain("30001 distinct identifiers");
  });

  it("flag a hit ratio far below the norm, once the volume is enough", () => {
    expect(rules(after([{ n: 1_999, matches: 0 }]), 1_999, 0.4)).toEqual([]);
    expect(rules(after([{ n: 2_000, matches: 0 }]), 2_000, 0.4)).toEqual(["hit-ratio"]);
    // 0.4 x 0.25 = 10%: just above is honest enough, just below is not.
    expect(rules(after([{ n: 10_000, matches: 1_001 }]), 10_000, 0.4)).toEqual([]);
    expect(rules(after([{ n: 10_000, matches: 999 }]), 10_000, 0.4)).toEqual(["hit-ratio"]);
    const [reason] = evaluateRules(after([{ n: 10_000, matches: 10 }]), 10_000, 0.4, config);
    expect(reason!.message).toMatch(/0\.10% of 10000 identifiers.*40\.0%.*10\.0%/);
  });

  it("judge the hit ratio on full syncs only, and not at all while the norm is unknown", () => {
    expect(rules(after([{ kind: "incremental", n: 20_000, matches: 0 }]), 20_000, 0.4)).toEqual([]);
    expect(rules(after([{ n: 20_000, matches: 0 }]), 20_000, null)).toEqual([]);
  });

  it("flag full syncs that are always sized to the bucket, after enough of them", () => {
    const edge = { n: 2_000, matches: 800, edge: true };
    expect(rules(after([edge, edge]), 4_000, 0.4)).toEqual([]);
    expect(rules(after([edge, edge, edge]), 6_000, 0.4)).toEqual(["edge"]);
    expect(rules(after([edge, edge, edge, { n: 50, matches: 20 }]), 6_000, 0.4)).toEqual(["edge"]); // 3 of 4 = 75%
    expect(rules(after([edge, edge, { n: 50, matches: 20 }, { n: 50, matches: 20 }]), 6_000, 0.4)).toEqual([]);
  });

  it("call a charge that leaves under 5% of the bucket free an edge", () => {
    expect(atEdge(999, 20_000)).toBe(true);
    expect(atEdge(1_000, 20_000)).toBe(false);
  });

  it("count refusals and activity", () => {
    const s = recordRefusal(recordRefusal(emptySignals(T0), T0 + 5), T0 + 9);
    expect(s).toMatchObject({ refusals: 2, firstAt: T0, lastAt: T0 + 9 });
  });

  it("cut a flagged client's full-sync budget to the quarantine share", () => {
    const judged = after([{ n: 2_000, matches: 800 }]);
    const limit = (flagged: boolean, quarantineBudget: number) => fullSyncLimit(20_000, { flagged, vouched: false, signals: judged }, { quarantineBudget, detection: config });
    expect(limit(false, 0)).toBe(20_000);
    expect(limit(true, 0)).toBe(0);
    expect(limit(true, 0.1)).toBe(2_000);
    expect(limit(true, 1)).toBe(20_000);
  });

  it("hold a client to the probation limit until its hit ratio has been judged", () => {
    const production = parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000, DETECT_PROBATION_LIMIT: 5000, QUARANTINE_BUDGET: 0 });
    const state = (signals: Signals | undefined, vouched = false) => ({ emptyAt: { full: 0, incremental: 0 }, flagged: false, vouched, signals });
    expect(decideCharge(production, state(undefined), "full", 5_001, T0)).toEqual({ ok: false, capped: true });
    expect(decideCharge(production, state(undefined), "full", 5_000, T0)).toMatchObject({ ok: true, fresh: true });
    expect(decideCharge(production, state(undefined), "incremental", 20_000, T0)).toMatchObject({ ok: true });
    expect(decideCharge(production, state(after([{ n: 1_999, matches: 900 }])), "full", 5_001, T0)).toEqual({ ok: false, capped: true });
    expect(decideCharge(production, state(after([{ n: 2_000, matches: 900 }])), "full", 18_000, T0)).toMatchObject({ ok: true, fresh: false });
    // An operator's clear vouches for the client: no probation, though its signals start afresh.
    expect(decideCharge(production, state(emptySignals(T0), true), "full", 18_000, T0)).toMatchObject({ ok: true });
  });
});
