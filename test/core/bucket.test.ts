// Leaky-bucket arithmetic with explicit clocks: drain rates, exact fills, truthful Retry-After, refunds.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucketLevel, bucketPolicy, chargeBucket, fitAfterRefusal, largestFit, refundBucket } from "../../src/core/bucket";
import { parseConfig } from "../../src/core/config";

const config = parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000, TEST_HOOKS: false });
const full = bucketPolicy(config, "full");
const incremental = bucketPolicy(config, "incremental");
const T0 = 1_700_000_000_000;

function charged(outcome: ReturnType<typeof chargeBucket>): number {
  if (!outcome.ok) throw new Error(`refused, retry after ${outcome.retryAfterSeconds}s`);
  return outcome.emptyAt;
}

describe("leaky bucket arithmetic", () => {
  it("lets a fresh bucket take exactly its capacity, and no more", () => {
    expect(chargeBucket(full, 0, 20000, T0).ok).toBe(true);
    expect(chargeBucket(full, 0, 20001, T0).ok).toBe(false);
  });

  it("frees one full-sync contact every 43.2 s with the defaults", () => {
    const emptyAt = charged(chargeBucket(full, 0, 20000, T0));
    expect(emptyAt).toBe(T0 + 864_000_000);
    expect(chargeBucket(full, emptyAt, 1, T0 + 43_199).ok).toBe(false);
    expect(chargeBucket(full, emptyAt, 1, T0 + 43_200).ok).toBe(true);
    expect(chargeBucket(full, emptyAt, 2, T0 + 43_200).ok).toBe(false);
    expect(chargeBucket(full, emptyAt, 2, T0 + 86_400).ok).toBe(true);
  });

  it("frees one incremental contact every 4.32 s with the defaults", () => {
    const emptyAt = charged(chargeBucket(incremental, 0, 20000, T0));
    expect(chargeBucket(incremental, emptyAt, 1, T0 + 4_319).ok).toBe(false);
    expect(chargeBucket(incremental, emptyAt, 1, T0 + 4_320).ok).toBe(true);
  });

  it("drains linearly: half the drain period frees half the capacity", () => {
    const emptyAt = charged(chargeBucket(full, 0, 20000, T0));
    expect(bucketLevel(full, emptyAt, T0 + 432_000_000)).toBe(10000);
    expect(largestFit(full, emptyAt, T0 + 432_000_000)).toBe(10000);
    expect(bucketLevel(full, emptyAt, emptyAt + 1)).toBe(0);
  });

  it("adds charges up: two halves fill the bucket", () => {
    const half = charged(chargeBucket(full, 0, 10000, T0));
    const filled = charged(chargeBucket(full, half, 10000, T0));
    expect(filled).toBe(T0 + 864_000_000);
    expect(chargeBucket(full, filled, 1, T0).ok).toBe(false);
  });

  it("answers a Retry-After after which the same charge fits, and not a second earlier", () => {
    for (const [policy, n, elapsed] of [
      [full, 1, 0],
      [full, 5000, 1_000_000],
      [incremental, 1, 17],
      [incremental, 19999, 3_000_000],
    ] as const) {
      const emptyAt = charged(chargeBucket(policy, 0, 20000, T0));
      const now = T0 + elapsed;
      const refused = chargeBucket(policy, emptyAt, n, now);
      if (refused.ok) throw new Error("expected a refusal");
      const wait = refused.retryAfterSeconds * 1000;
      expect(chargeBucket(policy, emptyAt, n, now + wait).ok).toBe(true);
      expect(chargeBucket(policy, emptyAt, n, now + wait - 1000).ok).toBe(false);
    }
  });

  it("refunds exactly what a charge took, never below empty", () => {
    const before = charged(chargeBucket(full, 0, 5000, T0));
    const after = charged(chargeBucket(full, before, 3000, T0 + 10));
    expect(refundBucket(full, after, 3000, T0 + 10)).toBe(before);
    expect(refundBucket(full, before, 4999, T0)).toBe(T0 + 43_200);
    expect(refundBucket(full, before, 5000, T0 + 10)).toBe(0);
  });

  it("lets a client that knows only a refusal's Retry-After send what fits, and leave at most a second's drain unused", () => {
    // The client's side of a 429 (client/src/client.ts): the whole bucket state is the service's.
    const DAY_S = 86_400;
    const state = fc.record({
      capacity: fc.integer({ min: 1, max: 100_000 }),
      drainSeconds: fc.integer({ min: 1, max: 365 * DAY_S }),
      filled: fc.double({ min: 0, max: 1, noNaN: true }),
      elapsedMs: fc.integer({ min: 0, max: 365 * DAY_S * 1000 }),
      limitShare: fc.double({ min: 0, max: 1, noNaN: true }),
      n: fc.integer({ min: 1, max: 100_000 }),
    });
    fc.assert(
      fc.property(state, ({ capacity, drainSeconds, filled, elapsedMs, limitShare, n }) => {
        const policy = { capacity, drainMs: drainSeconds * 1000 };
        const limit = Math.floor(limitShare * capacity);
        const emptyAt = charged(chargeBucket(policy, 0, Math.floor(filled * capacity), T0));
        const now = T0 + Math.min(elapsedMs, policy.drainMs);
        const refused = chargeBucket(policy, emptyAt, Math.min(n, capacity), now, limit);
        if (refused.ok) return;
        const fit = fitAfterRefusal(policy, Math.min(n, capacity), refused.retryAfterSeconds);
        if (fit >= 1) expect(chargeBucket(policy, emptyAt, fit, now, limit).ok).toBe(true);
        const trueFit = Math.max(0, Math.floor(limit - bucketLevel(policy, emptyAt, now) + 1e-9));
        expect(trueFit - Math.max(fit, 0)).toBeLessThanOrEqual(Math.ceil((1000 * capacity) / policy.drainMs) + 1);
      }),
      { numRuns: 2000 },
    );
    // The defaults: 432 s after a full-sync refusal is 10 contacts too many (43.2 s each).
    expect(fitAfterRefusal(full, 25, 432)).toBe(15);
  });

  it("works with other configurations (capacities that do not divide the period)", () => {
    const odd = bucketPolicy(parseConfig({ MAX_CONTACTS: 7, S2_PERIOD: 10, S2_DELTA: 100 }), "incremental");
    let emptyAt = 0;
    for (let i = 0; i < 7; i++) emptyAt = charged(chargeBucket(odd, emptyAt, 1, T0));
    const refused = chargeBucket(odd, emptyAt, 1, T0);
    expect(refused).toEqual({ ok: false, retryAfterSeconds: 2 }); // 10 s / 7 = 1.43 s per contact
    expect(chargeBucket(odd, emptyAt, 1, T0 + 2000).ok).toBe(true);
  });
});
