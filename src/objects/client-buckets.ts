// One Durable Object per client holds its two leaky buckets and its enumeration signals. A Durable
// Object runs one call at a time and charge() does not await between reading and writing, so
// concurrent requests of one client can never spend more than the bucket holds.

import { DurableObject } from "cloudflare:workers";
import { type BucketKind, bucketLevel, bucketPolicy, largestFit } from "../core/bucket";
import { chargeClient, refundCharge, sweepClient } from "../core/client-state";
import { configOf } from "../core/config";
import {
  type Answered,
  type ChargeDecision,
  type ClientState,
  type Flag,
  type Signals,
  emptySignals,
  keepUntil,
  observeAnswer,
} from "../core/detection";
import { toHex } from "../core/hex";
import type { NormSample } from "../core/hit-ratio-norm";
import { emptySketch, estimateDistinct } from "../core/hyperloglog";

const KINDS: readonly BucketKind[] = ["full", "incremental"];
/** Storage keys: the operator's block, the automatic flag, the signals, their sketch, the norm samples. */
const BLOCKED = "blocked";
const FLAG = "flag";
const SIGNALS = "signals";
const SKETCH = "sketch";
const SAMPLES = "samples";
const VOUCHED = "vouched";

export type ChargeResult = ChargeDecision | { ok: false; blocked: true };

export interface ClientView {
  blocked: boolean;
  flagged: boolean;
  flaggedAt: number | null;
  reasons: Flag["reasons"];
  signals: SignalsView | null;
  buckets: Record<BucketKind, BucketView>;
}

export interface SignalsView extends Signals {
  distinct: number;
  hitRatio: { full: number | null; incremental: number | null };
}

export interface Observed {
  /** The flag this answer raised, if it raised one now. */
  newFlag: Flag | null;
  /** The client's norm samples, for the monitor to take out when it was flagged. */
  samples: NormSample[];
}

export interface BucketView {
  level: number;
  emptyAt: number;
  largestFit: number;
}

export class ClientBuckets extends DurableObject<Env> {
  private emptyAt(kind: BucketKind): number {
    return this.ctx.storage.kv.get<number>(kind) ?? 0;
  }

  private get flag(): Flag | undefined {
    return this.ctx.storage.kv.get<Flag>(FLAG);
  }

  /**
   * Charges n contacts to the bucket of `kind`, or refuses (blocked, over the client's limit, or too
   * full) and leaves the buckets as they were; a refusal for the budget is counted among the signals.
   */
  async charge(kind: BucketKind, n: number, now: number = Date.now()): Promise<ChargeResult> {
    if (this.ctx.storage.kv.get(BLOCKED)) return { ok: false, blocked: true };
    const { decision, emptyAt, signals } = chargeClient(configOf(this.env), this.state(), kind, n, now);
    if (emptyAt !== undefined) this.ctx.storage.kv.put(kind, emptyAt);
    if (signals !== undefined) this.ctx.storage.kv.put(SIGNALS, signals);
    await this.scheduleSweep();
    return decision;
  }

  /**
   * Records an answered sync: its counts, the sketch of its identifiers, its norm sample; then runs
   * the rules against `normHitRatio`. A flag stays until an operator clears it.
   */
  async observe(answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number = Date.now()): Promise<Observed> {
    const kv = this.ctx.storage.kv;
    const evidence = { signals: kv.get<Signals>(SIGNALS), sketch: kv.get<Uint8Array>(SKETCH), samples: kv.get<NormSample[]>(SAMPLES), flag: this.flag };
    const observed = observeAnswer(evidence, answered, sketch, sample, normHitRatio, configOf(this.env).detection, now);
    kv.put(SIGNALS, observed.signals);
    kv.put(SKETCH, observed.sketch);
    kv.put(SAMPLES, observed.samples);
    if (observed.newFlag) kv.put(FLAG, observed.newFlag);
    await this.scheduleSweep();
    return { newFlag: observed.newFlag, samples: observed.samples };
  }

  /**
   * The operator's clear: the flag goes, the signals start afresh so that old evidence does not flag
   * again, and the client counts as judged (no probation limit) while its signals are kept.
   */
  async clearFlag(now: number = Date.now()): Promise<boolean> {
    const had = this.flag !== undefined;
    for (const key of [FLAG, SKETCH, SAMPLES]) this.ctx.storage.kv.delete(key);
    this.ctx.storage.kv.put(SIGNALS, emptySignals(now));
    this.ctx.storage.kv.put(VOUCHED, true);
    await this.sweep(now);
    return had;
  }

  /** Gives back a charge whose answer could not be delivered. */
  async refund(kind: BucketKind, n: number, now: number = Date.now()): Promise<void> {
    const emptyAt = refundCharge(configOf(this.env), kind, this.emptyAt(kind), n, now);
    if (emptyAt === 0) this.ctx.storage.kv.delete(kind);
    else this.ctx.storage.kv.put(kind, emptyAt);
  }

  /** The operator's block: kept until unblock(), whatever the buckets do. */
  block(): void {
    this.ctx.storage.kv.put(BLOCKED, true);
  }

  async unblock(now: number = Date.now()): Promise<void> {
    this.ctx.storage.kv.delete(BLOCKED);
    await this.sweep(now);
  }

  /** Empties both buckets (an operator's reset); a block stays. */
  async resetBuckets(now: number = Date.now()): Promise<void> {
    for (const kind of KINDS) this.ctx.storage.kv.delete(kind);
    await this.sweep(now);
  }

  /** Everything the operator may see of this client at `now`. */
  inspectClient(now: number = Date.now()): ClientView {
    const flag = this.flag;
    const stored = this.ctx.storage.kv.get<Signals>(SIGNALS);
    const ratio = (kind: BucketKind) => (stored && stored.identifiers[kind] > 0 ? stored.matches[kind] / stored.identifiers[kind] : null);
    return {
      blocked: this.ctx.storage.kv.get(BLOCKED) === true,
      flagged: flag !== undefined,
      flaggedAt: flag?.at ?? null,
      reasons: flag?.reasons ?? [],
      signals: stored
        ? {
            ...stored,
            distinct: estimateDistinct(this.ctx.storage.kv.get<Uint8Array>(SKETCH) ?? emptySketch()),
            hitRatio: { full: ratio("full"), incremental: ratio("incremental") },
          }
        : null,
      buckets: this.inspect(now),
    };
  }

  /** Both buckets as they stand at `now`. */
  inspect(now: number = Date.now()): Record<BucketKind, BucketView> {
    const config = configOf(this.env);
    const view = (kind: BucketKind): BucketView => {
      const policy = bucketPolicy(config, kind);
      const emptyAt = this.emptyAt(kind);
      return {
        level: bucketLevel(policy, emptyAt, now),
        emptyAt: emptyAt > now ? emptyAt : 0,
        largestFit: largestFit(policy, emptyAt, now),
      };
    };
    return { full: view("full"), incremental: view("incremental") };
  }

  /** What decideCharge() needs of this client. */
  private state(): ClientState {
    return {
      emptyAt: { full: this.emptyAt("full"), incremental: this.emptyAt("incremental") },
      flagged: this.flag !== undefined,
      vouched: this.ctx.storage.kv.get(VOUCHED) === true,
      signals: this.ctx.storage.kv.get<Signals>(SIGNALS),
    };
  }

  private keepUntil(): number {
    const { emptyAt, signals } = this.state();
    return keepUntil(emptyAt, signals);
  }

  /**
   * Drops all state once both buckets have drained (a drained bucket is the same as none) and the
   * signals have expired. A block or a flag is kept, with the signals behind the flag, until an
   * operator lifts it.
   */
  async sweep(now: number = Date.now()): Promise<void> {
    const verdict = sweepClient(this.state(), this.ctx.storage.kv.get(BLOCKED) === true, now);
    if ("wakeAt" in verdict) {
      await this.ctx.storage.setAlarm(verdict.wakeAt);
    } else if (verdict.drop !== "everything") {
      for (const kind of KINDS) this.ctx.storage.kv.delete(kind);
      if (verdict.drop === "buckets-and-signals") for (const key of [SIGNALS, SKETCH, SAMPLES, VOUCHED]) this.ctx.storage.kv.delete(key);
    } else {
      await this.ctx.storage.deleteAll();
    }
  }

  override async alarm(): Promise<void> {
    await this.sweep();
  }

  private async scheduleSweep(): Promise<void> {
    const latest = this.keepUntil();
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < latest) await this.ctx.storage.setAlarm(latest);
  }
}

/** The bucket object of a client. The epoch only changes through the local /reset hook. */
export function bucketsOf(env: Env, user: Uint8Array, epoch: number): DurableObjectStub<ClientBuckets> {
  const name = epoch === 0 ? toHex(user) : `${epoch}:${toHex(user)}`;
  return env.CLIENT_BUCKETS.get(env.CLIENT_BUCKETS.idFromName(name));
}
