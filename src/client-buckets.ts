// One Durable Object per client holds its two leaky buckets. A Durable Object runs one call at a
// time and charge() does not await between reading and writing, so concurrent requests of one client
// can never spend more than the bucket holds.

import { DurableObject } from "cloudflare:workers";
import { type BucketKind, type ChargeOutcome, bucketLevel, bucketPolicy, chargeBucket, largestFit, refundBucket } from "./bucket";
import { configOf } from "./config";
import { toHex } from "./hex";

const KINDS: readonly BucketKind[] = ["full", "incremental"];
/** Storage key of the operator's block; a blocked client is refused until unblocked. */
const BLOCKED = "blocked";

export type ChargeResult = ChargeOutcome | { ok: false; blocked: true };

export interface ClientView {
  blocked: boolean;
  buckets: Record<BucketKind, BucketView>;
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

  /** Charges n contacts to the bucket of `kind`, or refuses (blocked, or too full) and changes nothing. */
  async charge(kind: BucketKind, n: number, now: number = Date.now()): Promise<ChargeResult> {
    if (this.ctx.storage.kv.get(BLOCKED)) return { ok: false, blocked: true };
    const outcome = chargeBucket(bucketPolicy(configOf(this.env), kind), this.emptyAt(kind), n, now);
    if (outcome.ok) {
      this.ctx.storage.kv.put(kind, outcome.emptyAt);
      await this.scheduleSweep();
    }
    return outcome;
  }

  /** Gives back a charge whose answer could not be delivered. */
  async refund(kind: BucketKind, n: number, now: number = Date.now()): Promise<void> {
    const emptyAt = refundBucket(bucketPolicy(configOf(this.env), kind), this.emptyAt(kind), n, now);
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
    return { blocked: this.ctx.storage.kv.get(BLOCKED) === true, buckets: this.inspect(now) };
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

  /** Drops all state once both buckets have drained (a drained bucket is the same as none), unless blocked. */
  async sweep(now: number = Date.now()): Promise<void> {
    const latest = Math.max(...KINDS.map((kind) => this.emptyAt(kind)));
    if (latest > now) await this.ctx.storage.setAlarm(latest);
    else if (this.ctx.storage.kv.get(BLOCKED)) for (const kind of KINDS) this.ctx.storage.kv.delete(kind);
    else await this.ctx.storage.deleteAll();
  }

  override async alarm(): Promise<void> {
    await this.sweep();
  }

  private async scheduleSweep(): Promise<void> {
    const latest = Math.max(...KINDS.map((kind) => this.emptyAt(kind)));
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < latest) await this.ctx.storage.setAlarm(latest);
  }
}

/** The bucket object of a client. The epoch only changes through the local /reset hook. */
export function bucketsOf(env: Env, user: Uint8Array, epoch: number): DurableObjectStub<ClientBuckets> {
  const name = epoch === 0 ? toHex(user) : `${epoch}:${toHex(user)}`;
  return env.CLIENT_BUCKETS.get(env.CLIENT_BUCKETS.idFromName(name));
}
