// What a client's object decides on its own state: a charge, a refund, a sweep. Pure: the
// ClientBuckets object (src/objects/client-buckets.ts) stores what these return, and
// `npm run simulate` keeps the same state in memory and runs the same functions.

import { type BucketKind, bucketPolicy, refundBucket } from "./bucket";
import type { Config } from "./config";
import { type ChargeDecision, type ClientState, decideCharge, keepUntil } from "./charge-policy";
import { type Signals, emptySignals, recordRefusal } from "./flag-rules";

/**
 * A charge of n contacts to the bucket of `kind`: the decision, and what changes. Charged, the
 * bucket's new empty time (`emptyAt`); refused, the signals with the refusal counted (`signals`).
 */
export function chargeClient(config: Config, state: ClientState, kind: BucketKind, n: number, now: number): { decision: ChargeDecision; emptyAt?: number; signals?: Signals } {
  const decision = decideCharge(config, state, kind, n, now);
  if (decision.ok) return { decision, emptyAt: decision.emptyAt };
  return { decision, signals: recordRefusal(state.signals ?? emptySignals(now), now) };
}

/** The empty time of the bucket of `kind` after a charge of n was given back (0: empty, nothing to keep). */
export const refundCharge = (config: Config, kind: BucketKind, emptyAt: number, n: number, now: number): number =>
  refundBucket(bucketPolicy(config, kind), emptyAt, n, now);

export type SweepVerdict =
  /** Something is still worth keeping: look again then. */
  | { wakeAt: number }
  /**
   * Both buckets have drained and the signals expired. A flag keeps the signals behind it (and
   * itself) until an operator clears it; a block keeps only itself; otherwise everything goes.
   */
  | { drop: "buckets" | "buckets-and-signals" | "everything" };

/** What the object's sweep (its alarm) does at `now`. */
export function sweepClient(state: Pick<ClientState, "emptyAt" | "signals" | "flagged">, blocked: boolean, now: number): SweepVerdict {
  const latest = keepUntil(state.emptyAt, state.signals);
  if (latest > now) return { wakeAt: latest };
  if (state.flagged) return { drop: "buckets" };
  if (blocked) return { drop: "buckets-and-signals" };
  return { drop: "everything" };
}
