// Leaky-bucket arithmetic (docs/protocol.md, "Buckets"). Pure: no storage, `now` passed in.
// A bucket's whole state is the moment (ms) it will be empty; emptyAt is not rounded (that would
// shave the budget when capacity does not divide the period), so comparisons allow SLACK_MS.

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

export function bucketLevel(policy: BucketPolicy, emptyAt: number, now: number): number {
  return (Math.max(0, emptyAt - now) * policy.capacity) / policy.drainMs;
}

export function largestFit(policy: BucketPolicy, emptyAt: number, now: number): number {
  return Math.floor(policy.capacity - bucketLevel(policy, emptyAt, now) + 1e-9);
}

/** What still fits of a refused charge, worked out from the answer alone: never more than fits, as the wait is rounded up too. */
export function fitAfterRefusal(policy: BucketPolicy, n: number, retryAfterSeconds: number): number {
  return n - Math.ceil(bucketLevel(policy, retryAfterSeconds * 1000, 0));
}

/** Charges n contacts (1 <= n <= limit); `limit` (cut by quarantine or probation) caps the level, the drain stays the same. */
export function chargeBucket(policy: BucketPolicy, emptyAt: number, n: number, now: number, limit = policy.capacity): ChargeOutcome {
  const { capacity, drainMs } = policy;
  const start = Math.max(emptyAt, now);
  // (level + n - limit) * drainMs, in integers.
  const excess = (start - now) * capacity + n * drainMs - limit * drainMs - SLACK_MS * capacity;
  if (excess > 0) {
    return { ok: false, retryAfterSeconds: Math.ceil(excess / (1000 * capacity)) };
  }
  return { ok: true, emptyAt: start + (n * drainMs) / capacity };
}

export function refundBucket(policy: BucketPolicy, emptyAt: number, n: number, now: number): number {
  const refunded = emptyAt - (n * policy.drainMs) / policy.capacity;
  return refunded <= now ? 0 : refunded;
}
