// Leaky-bucket arithmetic (docs/protocol.md, "Leaky buckets"). Pure: no storage, `now` passed in.
//
// A bucket's whole state is one number, the moment (ms) at which it will be empty. Its level at `now`
// is (emptyAt - now) * capacity / drainMs, and a charge of n fits when level + n <= capacity. Both
// sides are multiplied by drainMs to keep the comparison free of division. emptyAt is not rounded
// (rounding every charge would shave the budget when capacity does not divide the period), so the
// comparison allows SLACK_MS for the doubles' rounding: far less than one contact's worth of time.

import type { Config } from "./config";

const SLACK_MS = 0.01;

export type BucketKind = "full" | "incremental";

export interface BucketPolicy {
  capacity: number;
  drainMs: number;
}

export type ChargeOutcome =
  | { ok: true; emptyAt: number }
  | { ok: false; retryAfterSeconds: number };

export function bucketPolicy(config: Config, kind: BucketKind): BucketPolicy {
  return {
    capacity: config.maxContacts,
    drainMs: kind === "full" ? config.s2DeltaMs : config.s2PeriodMs,
  };
}

/** The bucket's level at `now`, in contacts (fractional). */
export function bucketLevel(policy: BucketPolicy, emptyAt: number, now: number): number {
  return (Math.max(0, emptyAt - now) * policy.capacity) / policy.drainMs;
}

/** The largest charge that fits at `now`. */
export function largestFit(policy: BucketPolicy, emptyAt: number, now: number): number {
  return Math.floor(policy.capacity - bucketLevel(policy, emptyAt, now) + 1e-9);
}

/**
 * What still fits now of a charge of n that was refused with Retry-After retryAfterSeconds, as a
 * client that knows only the answer works it out: the excess is what drains in that wait (the
 * level of a bucket that empties then), rounded up. Never more than what does fit, since the wait
 * is rounded up too (test/core/bucket.test.ts); may be 0 or less, when nothing fits.
 */
export function fitAfterRefusal(policy: BucketPolicy, n: number, retryAfterSeconds: number): number {
  return n - Math.ceil(bucketLevel(policy, retryAfterSeconds * 1000, 0));
}

/**
 * Charges n contacts (1 <= n <= limit). Refused: the state is unchanged and retryAfterSeconds is
 * the smallest whole number of seconds after which the same charge fits. `limit` (the capacity
 * unless a quarantine cuts it) is the level a charge may fill the bucket to; the drain stays the same.
 */
export function chargeBucket(policy: BucketPolicy, emptyAt: number, n: number, now: number, limit = policy.capacity): ChargeOutcome {
  const { capacity, drainMs } = policy;
  const start = Math.max(emptyAt, now);
  // (level + n - limit) * drainMs, in integers.
  const excess = (start - now) * capacity + n * drainMs - limit * drainMs - SLACK_MS * capacity;
  if (excess > 0) {
    // Waiting w ms lowers the excess by w * capacity.
    return { ok: false, retryAfterSeconds: Math.ceil(excess / (1000 * capacity)) };
  }
  return { ok: true, emptyAt: start + (n * drainMs) / capacity };
}

/** Gives back a charge of n that was made but not used. Never goes below empty. */
export function refundBucket(policy: BucketPolicy, emptyAt: number, n: number, now: number): number {
  const refunded = emptyAt - (n * policy.drainMs) / policy.capacity;
  return refunded <= now ? 0 : refunded;
}
