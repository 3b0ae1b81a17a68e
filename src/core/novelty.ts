// The novelty limit (docs/detection.md, "Novelty"): how many identifiers a client may ask about that it
// never asked about before. Its first book is allowed within its first hours; after them new ones
// come at an honest rate, from a leaky bucket. Re-asking is free. Counted with the HyperLogLog
// sketch its object keeps anyway, so nothing more about its contacts is stored. Pure.

import { type BucketPolicy, chargeBucket, largestFit } from "./bucket";
import type { NoveltyPolicy } from "./config";
import { estimateDistinct, mergeSketch } from "./hyperloglog";
import { DAY_MS } from "./time";

export type { NoveltyPolicy } from "./config";

/** What a client's object keeps for the rule. */
export interface NoveltyState {
  /** The bucket's empty time after the window (core/bucket.ts); none: empty. */
  emptyAt?: number;
  /** Refusals by this rule since the signals began. */
  refusals: number;
  /** Refusals in the day that began at `since`: what the flag counts (an honest client retrying a few times a day stays far below it). */
  day?: { since: number; count: number };
}

/** The state after one more refusal at `now`. */
export function noteRefusal(state: NoveltyState | undefined, now: number): NoveltyState {
  const day = state?.day && now - state.day.since < DAY_MS ? { since: state.day.since, count: state.day.count + 1 } : { since: now, count: 1 };
  return { ...state, refusals: (state?.refusals ?? 0) + 1, day };
}

export type NoveltyDecision =
  | { ok: true; novel: number; emptyAt: number | undefined }
  /** retryAfterSeconds null: more new identifiers than the rule ever allows at once; send fewer. */
  | { ok: false; novel: number; retryAfterSeconds: number | null };

export const noveltyBucket = (policy: NoveltyPolicy): BucketPolicy => ({ capacity: policy.burst, drainMs: Math.round((policy.burst / policy.perDay) * DAY_MS) });

/** Distinct identifiers the client has asked about before and after this request, as the sketches estimate them. */
export function distinctBeforeAndAfter(known: Uint8Array | undefined, request: Uint8Array): { before: number; after: number } {
  const before = known ? estimateDistinct(known) : 0;
  const after = estimateDistinct(mergeSketch(known ? known.slice() : new Uint8Array(request.length), request));
  return { before, after };
}

/**
 * `firstAt`: the client's first request (undefined: this is it). Within the window the first book may
 * grow to `book`; after it each new identifier drains from the bucket. Nothing changes on a refusal.
 */
export function decideNovelty(policy: NoveltyPolicy, state: NoveltyState | undefined, firstAt: number | undefined, known: Uint8Array | undefined, request: Uint8Array, now: number): NoveltyDecision {
  const { before, after } = distinctBeforeAndAfter(known, request);
  const novel = Math.max(0, after - before);
  const emptyAt = state?.emptyAt;
  const windowEnds = (firstAt ?? now) + policy.windowMs;
  if (now < windowEnds) {
    if (after <= policy.book || novel === 0) return { ok: true, novel, emptyAt };
    // The book is complete: new ones wait for the bucket that opens when the window closes.
    return { ok: false, novel, retryAfterSeconds: novel <= policy.burst ? Math.ceil((windowEnds - now) / 1000) : null };
  }
  if (novel === 0) return { ok: true, novel, emptyAt };
  if (novel > policy.burst) return { ok: false, novel, retryAfterSeconds: null };
  const charged = chargeBucket(noveltyBucket(policy), emptyAt ?? 0, novel, now);
  return charged.ok ? { ok: true, novel, emptyAt: charged.emptyAt } : { ok: false, novel, retryAfterSeconds: charged.retryAfterSeconds };
}

/** How many new identifiers the client may ask about now. */
export function noveltyRoom(policy: NoveltyPolicy, state: NoveltyState | undefined, firstAt: number | undefined, known: Uint8Array | undefined, now: number): number {
  const windowEnds = (firstAt ?? now) + policy.windowMs;
  if (now < windowEnds) return Math.max(0, policy.book - (known ? estimateDistinct(known) : 0));
  return largestFit(noveltyBucket(policy), state?.emptyAt ?? 0, now);
}
