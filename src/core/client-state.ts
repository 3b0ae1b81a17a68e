// What a client's object decides on its own state: a charge, a refund, a sweep. Pure: ClientBuckets
// stores what these return, and `npm run simulate` runs them in memory.

import { type BucketKind, bucketPolicy, refundBucket } from "./bucket";
import type { Config } from "./config";
import { type ChargeDecision, type ClientState, decideCharge, keepUntil } from "./charge-policy";
import { type Flag, type Signals, emptySignals, recordRefusal } from "./flag-rules";
import { mergeSketch } from "./hyperloglog";
import { type NoveltyPolicy, type NoveltyState, decideNovelty, noteRefusal, noveltyRoom } from "./novelty";

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
  const novelty = decideNovelty(policy, state.novelty, state.signals?.firstAt, state.sketch, requestSketch, now);
  if (novelty.ok) {
    const sketch = mergeSketch(state.sketch ? state.sketch.slice() : new Uint8Array(requestSketch.length), requestSketch);
    const { emptyAt: _, ...kept } = state.novelty ?? { refusals: 0 };
    return { decision, emptyAt: decision.emptyAt, sketch, novelty: { ...kept, ...(novelty.emptyAt !== undefined && { emptyAt: novelty.emptyAt }) } };
  }
  const noveltyState = noteRefusal(state.novelty, now);
  // The room tells the client how many new identifiers fit now (ICD-Novelty-Room).
  const noveltyRoom = roomFor(policy, state, now);
  const refusal: ChargeDecision = novelty.retryAfterSeconds === null ? { ok: false, capped: true, noveltyRoom } : { ok: false, retryAfterSeconds: novelty.retryAfterSeconds, noveltyRoom };
  const inADay = noveltyState.day!.count;
  const newFlag: Flag | undefined =
    state.flagged || inADay < policy.flagRefusals
      ? undefined
      : {
          at: now,
          reasons: [{ rule: "novelty", message: `${inADay} requests in a day refused for asking about more new identifiers than an address book gains (${policy.perDay} a day after its first book)`, value: inADay, threshold: policy.flagRefusals }],
        };
  return { decision: refusal, signals: refused(), novelty: noveltyState, ...(newFlag && { newFlag }) };
}

/** What surely fits: the sketch counts a request's new identifiers within a few percent, so a tenth is kept back. */
const roomFor = (policy: NoveltyPolicy, state: ClientState, now: number) => Math.floor(0.9 * noveltyRoom(policy, state.novelty, state.signals?.firstAt, state.sketch, now));

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
