// What a client's object decides on its own state: a charge, a refund, a sweep. Pure: ClientBuckets
// stores what these return, and `npm run simulate` runs them in memory.

import { type BucketKind, bucketPolicy, refundBucket } from "./bucket";
import type { Config } from "./config";
import { type ChargeDecision, type ClientState, decideCharge, keepUntil } from "./charge-policy";
import { type Flag, type Signals, emptySignals, recordRefusal } from "./flag-rules";
import { mergeSketch } from "./hyperloglog";
import { type NoveltyState, decideNovelty } from "./novelty";

/** What the caller stores: each field that is present. */
export interface ClientCharge {
  decision: ChargeDecision;
  emptyAt?: number;
  signals?: Signals;
  /** With the novelty limit on: its new state, and the client's sketch with the request's identifiers in it. */
  novelty?: NoveltyState;
  sketch?: Uint8Array;
  newFlag?: Flag;
}

/**
 * The budget first, then (with the novelty limit on and the request's sketch given) the novelty limit;
 * a refusal by either charges nothing and counts among the signals' refusals.
 */
export function chargeClient(config: Config, state: ClientState, kind: BucketKind, n: number, now: number, requestSketch?: Uint8Array): ClientCharge {
  const decision = decideCharge(config, state, kind, n, now);
  const refused = () => recordRefusal(state.signals ?? emptySignals(now), now);
  if (!decision.ok) return { decision, signals: refused() };
  const policy = config.detection.novelty;
  if (!policy || !requestSketch) return { decision, emptyAt: decision.emptyAt };
  const refusals = state.novelty?.refusals ?? 0;
  const novelty = decideNovelty(policy, state.novelty, state.signals?.firstAt, state.sketch, requestSketch, now);
  if (novelty.ok) {
    const sketch = mergeSketch(state.sketch ? state.sketch.slice() : new Uint8Array(requestSketch.length), requestSketch);
    return { decision, emptyAt: decision.emptyAt, sketch, novelty: { refusals, ...(novelty.emptyAt !== undefined && { emptyAt: novelty.emptyAt }) } };
  }
  const count = refusals + 1;
  const noveltyState = { ...state.novelty, refusals: count };
  const refusal: ChargeDecision = novelty.retryAfterSeconds === null ? { ok: false, capped: true, novelty: true } : { ok: false, retryAfterSeconds: novelty.retryAfterSeconds, novelty: true };
  const newFlag: Flag | undefined =
    state.flagged || count < policy.flagRefusals
      ? undefined
      : { at: now, reasons: [{ rule: "novelty", message: `${count} requests refused for asking about more new identifiers than an address book gains (${policy.perDay} a day after its first ${Math.round(policy.windowMs / 3_600_000)} hours)`, value: count, threshold: policy.flagRefusals }] };
  return { decision: refusal, signals: refused(), novelty: noveltyState, ...(newFlag && { newFlag }) };
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
