// The learned hit ratio of honest full syncs.

import { describe, expect, it } from "vitest";
import { HALF_LIFE_MS, PRIOR_HIT_RATIO, PRIOR_WEIGHT, addSample, emptyNorm, learnFromSync, normOf, removeSamples, type NormSample, type NormState } from "../../src/core/hit-ratio-norm";

const T0 = 1_800_000_000_000;

function learn(state: NormState, ratios: number[], at = T0) {
  const samples: NormSample[] = [];
  for (const r of ratios) {
    const added = addSample(state, 1000, Math.round(r * 1000), at);
    state = added.state;
    if (added.sample) samples.push(added.sample);
  }
  return { state, samples };
}

describe("the hit-ratio norm", () => {
  it("starts from the weak prior", () => {
    expect(normOf(emptyNorm(T0), T0)).toEqual({ hitRatio: expect.closeTo(PRIOR_HIT_RATIO, 1), samples: 0, prior: true });
  });

  it("learns the median of honest full syncs, whatever the prior", () => {
    const ratios = Array.from({ length: 200 }, (_, i) => 0.55 + (i % 10) / 100); // 55% to 64%
    const { hitRatio, samples } = normOf(learn(emptyNorm(T0), ratios).state, T0);
    expect(samples).toBe(200);
    expect(normOf(learn(emptyNorm(T0), ratios).state, T0).prior).toBe(false);
    expect(hitRatio).toBeGreaterThan(0.55);
    expect(hitRatio).toBeLessThan(0.65);
  });

  it("ignores syncs too small to say anything", () => {
    const { state, sample } = addSample(emptyNorm(T0), 19, 0, T0);
    expect(sample).toBeNull();
    expect(normOf(state, T0).samples).toBe(0);
  });

  it("is not dragged down by one enumerator's huge request: one sample per request", () => {
    let { state } = learn(emptyNorm(T0), Array(30).fill(0.5));
    state = addSample(state, 20_000, 0, T0).state;
    expect(normOf(state, T0).hitRatio).toBeGreaterThan(0.45);
  });

  it("takes a flagged client's samples out again", () => {
    const honest = learn(emptyNorm(T0), Array(20).fill(0.5));
    const sybils = learn(honest.state, Array(3 * PRIOR_WEIGHT + 40).fill(0));
    expect(normOf(sybils.state, T0).hitRatio).toBeLessThan(0.05);
    const cleaned = removeSamples(sybils.state, sybils.samples, T0);
    expect(normOf(cleaned, T0).hitRatio).toBeCloseTo(normOf(honest.state, T0).hitRatio, 5);
  });

  it("lets old samples fade with a half-life", () => {
    const { state } = learn(emptyNorm(T0), Array(64).fill(0.5));
    expect(normOf(state, T0 + 2 * HALF_LIFE_MS).samples).toBeCloseTo(16, 6);
  });
});

describe("the monitor's step", () => {
  it("learns only from unflagged clients' full syncs, and hands out the sample to keep", () => {
    const full = { kind: "full" as const, identifiers: 1000, matches: 400, flagged: false };
    const taught = learnFromSync(emptyNorm(T0), full, T0);
    expect(taught).toMatchObject({ taught: true, sample: { at: T0 } });
    expect(taught.norm).toEqual(normOf(taught.state, T0));
    expect(taught.norm.samples).toBe(1);
    for (const sync of [{ ...full, flagged: true }, { ...full, kind: "incremental" as const }]) {
      const ignored = learnFromSync(taught.state, sync, T0);
      expect(ignored).toEqual({ state: taught.state, taught: false, norm: taught.norm, sample: null });
    }
  });
});
