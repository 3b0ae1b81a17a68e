// What a client's object decides on its own state: a charge, a refund, a sweep. Pure: ClientBuckets
// stores what these return, and `npm run simulate` runs them in memory.

import { type BucketKind, bucketPolicy, refundBucket } from "./bucket";
import type { Config } from "./config";
import { type ChargeDecision, type ClientState, decideCharge, keepUntil } from "./charge-policy";
import { type Signals, emptySignals, recordRefusal } from "./flag-rules";

export function chargeClient(config: Config, state: ClientState, kind: BucketKind, n: number, now: number): { decision: ChargeDecision; emptyAt?: number; signals?: Signals } {
  const decision = decideCharge(config, state, kind, n, now);
  if (decision.ok) return { decision, emptyAt: decision.emptyAt };
  return { decision, signals: recordRefusal(state.signals ?? emptySignals(now), now) };
}

export const refundCharge = (config: Config, kind: BucketKind, emptyAt: number, n: number, now: number): number =>
  refundBucket(bucketPolicy(config, kind), emptyAt, n, now);

export type SweepVerdict =
  | { wakeAt: number }
  /** A flag keeps its signals until an operator clears it; a block keeps only itself. */
  | { drop: "buckets" | "buckets-and-signals" | "everything" };

export function sweepClient(state: Pick<ClientState, "emptyAt" | "signals" | "flagged">, blocked: boolean, now: number): SweepVerdict {
  const latest = keepUntil(state.emptyAt, state.signals);
  if (latest > now) return { wakeAt: latest };
  if (state.flagged) return { drop: "buckets" };
  if (blocked) return { drop: "buckets-and-signals" };
  return { drop: "everything" };
}
