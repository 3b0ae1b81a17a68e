// The per-client enumeration rules, on signals built with explicit clocks.

import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config";
import { emptySketch } from "../../src/core/hyperloglog";
import { decideCharge, fullSyncLimit, isJudged, withProbation } from "../../src/core/charge-policy";
import { type Evidence, type Signals, type WalkVerdict, atEdge, emptySignals, evaluateRules, observeAnswer, recordAnswer, recordRefusal, stepWalk, walkVerdict } from "../../src/core/flag-rules";
import { DAY_MS, HOUR_MS } from "../../src/core/time";

const config = { maxDistinct: 30_000, minVolume: 2_000, hitRatioFactor: 0.25, edgeSyncs: 3, probationLimit: 20_000, walkError: 0.01, youngMs: DAY_MS };
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

/** Identifiers one at a time, `hits` of every `of` registered: how many until the walk decides, and what. */
function decide(hits: number, of: number, norm: number, start = { walk: 0, verdict: "open" as WalkVerdict }, most = 10_000) {
  let { walk } = start;
  for (let i = 1; i <= most; i++) {
    walk = stepWalk(walk, 1, i % of < hits ? 1 : 0, norm, config);
    const verdict = walkVerdict(walk, start.verdict, config);
    if (verdict !== start.verdict) return { verdict, after: i };
  }
  return { verdict: start.verdict, after: most };
}

/** The evidence after full syncs observed against `norm`, as the client's object records them. */
const observed = (syncs: { n: number; matches: number }[], norm: number): Evidence =>
  syncs.reduce<Evidence>((e, { n, matches }, i) => {
    const { newFlag, ...next } = observeAnswer(e, { kind: "full", identifiers: n, matches, edge: false }, emptySketch(), null, norm, config, T0 + i);
    return { ...next, flag: e.flag ?? newFlag ?? undefined };
  }, {});

describe("the sequential test (the walk)", () => {
  it("decides an address book honest within tens of identifiers, an enumerator at the flag threshold suspect within two hundred", () => {
    const honest = decide(2, 5, 0.4); // 40% registered
    expect(honest.verdict).toBe("honest");
    expect(honest.after).toBeLessThanOrEqual(40);
    const enumerator = decide(1, 10, 0.4); // 10%, the threshold 0.25 x 40%
    expect(enumerator.verdict).toBe("suspect");
    expect(enumerator.after).toBeLessThanOrEqual(200);
    // A book at a quarter registered, the lowest an ordinary one shows, still walks honest.
    expect(decide(1, 4, 0.4).verdict).toBe("honest");
  });

  it("stays within its bounds and holds its verdict, so a change of behaviour is followed within a few hundred identifiers", () => {
    let walk = 0;
    let verdict: WalkVerdict = "open";
    for (let i = 0; i < 5_000; i++) {
      walk = stepWalk(walk, 1, i % 5 < 2 ? 1 : 0, 0.4, config); // a long honest history
      verdict = walkVerdict(walk, verdict, config);
    }
    expect(verdict).toBe("honest");
    expect(walk).toBeGreaterThanOrEqual(Math.log(0.01 / 0.99)); // bounded: the history does not pile up
    const change = decide(1, 10, 0.4, { walk, verdict });
    expect(change.verdict).toBe("suspect");
    expect(change.after).toBeLessThanOrEqual(400);
    // Within its bounds, a whole request steps it as its identifiers would one by one.
    let oneByOne = 0;
    for (let i = 0; i < 9; i++) oneByOne = stepWalk(oneByOne, 1, i % 3 === 0 ? 1 : 0, 0.4, config);
    expect(oneByOne).toBeLessThan(0);
    expect(stepWalk(0, 9, 3, 0.4, config)).toBeCloseTo(oneByOne);
  });

  it("never flags: a low-ratio book under the volume is left alone, and a suspect one is not judged by volume", () => {
    const small = observed([{ n: 500, matches: 40 }], 0.41); // 8%, suspect, but below DETECT_MIN_VOLUME
    expect(small.signals?.verdict).toBe("suspect");
    expect(small.flag).toBeUndefined();
    // A CRM book at 12% registered: above the hit-ratio threshold (10.25%), so not flagged; but it walks suspect, so not judged.
    const crm = observed([{ n: 1_000, matches: 120 }, { n: 1_000, matches: 120 }, { n: 1_000, matches: 120 }], 0.41);
    expect(crm.flag).toBeUndefined();
    expect(crm.signals?.judged).toBe(false);
    expect(isJudged({ vouched: false, signals: crm.signals }, { detection: config })).toBe(false);
    // An address book at 40% is judged once the volume is checked, and stays judged whatever it does next.
    const book = observed([{ n: 1_000, matches: 400 }, { n: 1_000, matches: 400 }], 0.41);
    expect(book.signals?.judged).toBe(true);
    const later = observed([{ n: 1_000, matches: 400 }, { n: 1_000, matches: 400 }, { n: 300, matches: 3 }], 0.41);
    expect(later.signals?.verdict).toBe("suspect");
    expect(isJudged({ vouched: false, signals: later.signals }, { detection: config })).toBe(true);
  });

  it("holds a young client during an egress episode by its walk: open gets the episode's limit, honest-looking the probation's, suspect none", () => {
    const production = { quarantineBudget: 0, detection: { ...config, probationLimit: 1_000 } };
    const episode = withProbation(production, 100);
    const limit = (signals: Signals | undefined, c = episode, vouched = false, hours = 1) => fullSyncLimit(20_000, { flagged: false, vouched, signals }, c, T0 + hours * HOUR_MS);
    const fresh = undefined;
    const honest = observed([{ n: 100, matches: 40 }], 0.41).signals;
    const suspect = observed([{ n: 300, matches: 15 }], 0.41).signals;
    const judged = observed([{ n: 2_000, matches: 800 }], 0.41).signals;
    expect([limit(fresh), limit(honest), limit(suspect), limit(suspect, episode, true)]).toEqual([100, 1_000, 0, 20_000]);
    // Older than DETECT_YOUNG_HOURS, a client is served as outside an episode, whatever its walk.
    expect([limit(honest, episode, false, 25), limit(suspect, episode, false, 25), limit(judged, episode, false, 25)]).toEqual([1_000, 1_000, 20_000]);
    // Outside an episode the walk changes nothing: probation for every unjudged client.
    expect([limit(fresh, production), limit(honest, production), limit(suspect, production)]).toEqual([1_000, 1_000, 1_000]);
    // A judged client is held like an unjudged one while it is young (a day after its first sync), during an episode only.
    const young = (c: typeof production, hours: number) => fullSyncLimit(20_000, { flagged: false, vouched: false, signals: judged }, c, T0 + hours * HOUR_MS);
    expect([young(episode, 1), young(episode, 25), young(production, 1)]).toEqual([1_000, 20_000, 20_000]);
    expect(decideCharge({ ...parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000 }), detection: config }, { emptyAt: { full: 0, incremental: 0 }, flagged: false, vouched: false, signals: judged }, "full", 10, T0 + HOUR_MS)).toMatchObject({ ok: true, judged: true, established: false });
    // A suspect client held at nothing waits for the episode's end (Retry-After of its calm minutes); over an
    // open client's limit, or with no episode, it sends less (no Retry-After); a flagged one is not helped by waiting.
    const whole = { ...parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000 }), quarantineBudget: 0, detection: { ...config, probationLimit: 1_000 } };
    const charge = (c: typeof whole, signals: Signals | undefined, n: number, flagged = false) => decideCharge(c, { emptyAt: { full: 0, incremental: 0 }, flagged, vouched: false, signals }, "full", n, T0 + HOUR_MS);
    expect(charge(withProbation(whole, 100), suspect, 1)).toEqual({ ok: false, retryAfterSeconds: whole.egress.calmMinutes * 60 });
    expect(charge(withProbation(whole, 100), suspect, 1_001)).toEqual({ ok: false, capped: true }); // would not fit after the episode either
    expect(charge(withProbation(whole, 100), fresh, 101)).toEqual({ ok: false, capped: true });
    expect(charge(whole, suspect, 1_001)).toEqual({ ok: false, capped: true });
    expect(charge(withProbation(whole, 100), suspect, 1, true)).toEqual({ ok: false, capped: true });
    // An episode limit of at least the probation limit leaves the response off (local development).
    expect(withProbation(production, 1_000)).toBe(production);
    expect(limit(suspect, withProbation(production, 20_000))).toBe(1_000);
  });
});
