// One Durable Object per client holds its two leaky buckets, its signals and a copy of its credential
// (the token's SHA-256), so a sync is authenticated and charged in one call without a D1 round trip.
// D1 stays the source of truth; a deletion leaves a tombstone so that a stale D1 read cannot bring the
// token back. One call runs at a time and charge() does not await between read and write: no overspend.

import { DurableObject } from "cloudflare:workers";
import { type BucketKind, bucketLevel, bucketPolicy, largestFit } from "../core/bucket";
import { chargeClient, refundCharge, sweepClient } from "../core/client-state";
import { configOf } from "../core/config";
import { type ChargeDecision, type ClientState, keepUntil, withProbation } from "../core/charge-policy";
import { type Answered, type Flag, type Signals, emptySignals, observeAnswer } from "../core/flag-rules";
import { beforeCharge } from "../core/discovery-steps";
import { toHex } from "../core/hex";
import { sameHash } from "../core/token";
import { type NormSample, PRIOR_HIT_RATIO } from "../core/hit-ratio-norm";
import { emptySketch, estimateDistinct } from "../core/hyperloglog";
import { DAY_MS } from "../core/time";

const KINDS: readonly BucketKind[] = ["full", "incremental"];
/** A tombstone outlives any D1 read that could have started before the deletion. */
const TOMBSTONE_MS = DAY_MS;

/** Every storage key and its value's type; read and written only through storeOf(). */
interface Stored {
  /** Each bucket's empty time (core/bucket.ts), by its kind; none: empty. */
  full: number;
  incremental: number;
  blocked: true;
  flag: Flag;
  /** An operator cleared a flag: the client counts as judged while its signals are kept. */
  vouched: true;
  signals: Signals;
  sketch: Uint8Array;
  samples: NormSample[];
  /** The norm this client was last given, to judge it by when none comes. */
  norm: number;
  credential: Credential;
  revoked: Tombstone;
}

type StoredKey = keyof Stored;

const storeOf = (kv: SyncKvStorage) => ({
  get: <K extends StoredKey>(key: K): Stored[K] | undefined => kv.get<Stored[K]>(key),
  put: <K extends StoredKey>(key: K, value: Stored[K]): void => kv.put(key, value),
  delete: (...keys: StoredKey[]): void => {
    for (const key of keys) kv.delete(key);
  },
});

export type ChargeResult = ChargeDecision | { ok: false; blocked: true };

/** A user's credential as D1 holds it: the token's SHA-256 and when this registration began. */
export interface Credential {
  tokenHash: Uint8Array;
  addedAt: number;
}

/** A deletion: the credential it revoked (null: whatever was registered), and when. */
interface Tombstone {
  tokenHash: Uint8Array | null;
  at: number;
}

export interface SyncRequest {
  kind: BucketKind;
  /** Identifiers in the request; 0 or more than `maxContacts` is answered without a charge. */
  n: number;
  maxContacts: number;
  tokenHash: Uint8Array;
  /** The credential read from D1, when the object did not know it (answered "unknown"). */
  learned?: Credential;
  /** A tighter probation limit for this charge: an egress episode is on (src/core/egress.ts). */
  probationLimit?: number | undefined;
  observation?: Observation | undefined;
}

/** "unknown": this object holds no credential; read it from D1 and call again with `learned`. */
export type SyncVerdict = { auth: "unknown" } | { auth: "invalid" } | { auth: "ok"; charged: ChargeResult | null; observed?: Observed };

/** What the answer showed, when the Worker looked it up before charging: recorded in the same call,
 * only if the charge succeeds and the client is not fresh (a first sync is observed after admission). */
export interface Observation {
  matches: number;
  sketch: Uint8Array;
  /** The norm this isolate knows, or null (then the one last given here). */
  normHitRatio: number | null;
}

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
  // An instance field, which RPC does not expose (it exposes the class's methods and getters).
  private readonly store = storeOf(this.ctx.storage.kv);

  private emptyAt(kind: BucketKind): number {
    return this.store.get(kind) ?? 0;
  }

  private get flag(): Flag | undefined {
    return this.store.get("flag");
  }

  /** Authenticates, then charges as charge() does; a request of no identifiers or of more than
 * `maxContacts` is not charged: the caller answers it. */
  async sync(req: SyncRequest, now: number = Date.now()): Promise<SyncVerdict> {
    let credential = this.store.get("credential");
    if (!credential && req.learned) {
      if (this.revokes(req.learned)) return { auth: "invalid" };
      this.store.put("credential", req.learned);
      credential = req.learned;
    }
    if (!credential) return { auth: "unknown" };
    if (!sameHash(new Uint8Array(credential.tokenHash), new Uint8Array(req.tokenHash))) return { auth: "invalid" };
    if (beforeCharge(req.n, req.maxContacts).step !== "charge") {
      return { auth: "ok", charged: this.store.get("blocked") ? { ok: false, blocked: true } : null };
    }
    const charged = await this.charge(req.kind, req.n, now, req.probationLimit);
    if (!req.observation || !charged.ok || charged.fresh) return { auth: "ok", charged };
    // No norm sample: only a client's first full sync teaches the norm, and this client is not fresh.
    const { matches, sketch, normHitRatio } = req.observation;
    const observed = this.record({ kind: req.kind, identifiers: req.n, matches, edge: charged.edge }, sketch, null, normHitRatio, now);
    await this.scheduleSweep(now); // the signals just written may be kept longer than the charge's alarm says
    return { auth: "ok", charged, observed };
  }

  /** A registration (or re-registration) in D1 made `credential` the user's: it replaces any copy or tombstone. */
  async setCredential(credential: Credential, now: number = Date.now()): Promise<void> {
    this.store.put("credential", credential);
    this.store.delete("revoked");
    await this.scheduleSweep(now);
  }

  /** Called before a deletion reaches D1: the tombstone refuses a copy that an earlier D1 read might
 * bring back; a registration newer than it is learned as usual. */
  async revokeCredential(tokenHash: Uint8Array | null, now: number = Date.now()): Promise<void> {
    const stored = this.store.get("credential");
    if (!stored || tokenHash === null || sameHash(new Uint8Array(stored.tokenHash), new Uint8Array(tokenHash))) this.store.delete("credential");
    this.store.put("revoked", { tokenHash, at: now } satisfies Tombstone);
    await this.scheduleSweep(now);
  }

  /** Whether a deletion here is newer than the registration `learned` was read from. */
  private revokes(learned: Credential): boolean {
    const tombstone = this.store.get("revoked");
    if (!tombstone || learned.addedAt > tombstone.at) return false;
    return tombstone.tokenHash === null || sameHash(new Uint8Array(tombstone.tokenHash), new Uint8Array(learned.tokenHash));
  }

  /** A refusal for the budget is counted among the signals. */
  async charge(kind: BucketKind, n: number, now: number = Date.now(), probationLimit?: number): Promise<ChargeResult> {
    if (this.store.get("blocked")) return { ok: false, blocked: true };
    const config = withProbation(configOf(this.env), probationLimit);
    const { decision, emptyAt, signals } = chargeClient(config, this.state(), kind, n, now);
    if (emptyAt !== undefined) this.store.put(kind, emptyAt);
    if (signals !== undefined) this.store.put("signals", signals);
    await this.scheduleSweep();
    return decision;
  }

  async observe(answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number = Date.now()): Promise<Observed> {
    const observed = this.record(answered, sketch, sample, normHitRatio, now);
    await this.scheduleSweep();
    return observed;
  }

  private record(answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number): Observed {
    const { store } = this;
    // The client is judged with what it holds: the norm it was last given when none comes now (the
    // shared monitoring is down or not yet heard from), and the prior before it was ever given one.
    if (normHitRatio !== null) store.put("norm", normHitRatio);
    else normHitRatio = store.get("norm") ?? PRIOR_HIT_RATIO;
    const evidence = { signals: store.get("signals"), sketch: store.get("sketch"), samples: store.get("samples"), flag: this.flag };
    const observed = observeAnswer(evidence, answered, sketch, sample, normHitRatio, configOf(this.env).detection, now);
    store.put("signals", observed.signals);
    store.put("sketch", observed.sketch);
    store.put("samples", observed.samples);
    if (observed.newFlag) store.put("flag", observed.newFlag);
    return { newFlag: observed.newFlag, samples: observed.samples };
  }

  /** Signals start afresh so that old evidence does not flag again; the client counts as judged meanwhile. */
  async clearFlag(now: number = Date.now()): Promise<boolean> {
    const had = this.flag !== undefined;
    this.store.delete("flag", "sketch", "samples");
    this.store.put("signals", emptySignals(now));
    this.store.put("vouched", true);
    await this.sweep(now);
    return had;
  }

  /** Gives back a charge whose answer could not be delivered. */
  async refund(kind: BucketKind, n: number, now: number = Date.now()): Promise<void> {
    const emptyAt = refundCharge(configOf(this.env), kind, this.emptyAt(kind), n, now);
    if (emptyAt === 0) this.store.delete(kind);
    else this.store.put(kind, emptyAt);
  }

  block(): void {
    this.store.put("blocked", true);
  }

  async unblock(now: number = Date.now()): Promise<void> {
    this.store.delete("blocked");
    await this.sweep(now);
  }

  /** Empties both buckets (an operator's reset); a block stays. */
  async resetBuckets(now: number = Date.now()): Promise<void> {
    this.store.delete(...KINDS);
    await this.sweep(now);
  }

  inspectClient(now: number = Date.now()): ClientView {
    const flag = this.flag;
    const stored = this.store.get("signals");
    const ratio = (kind: BucketKind) => (stored && stored.identifiers[kind] > 0 ? stored.matches[kind] / stored.identifiers[kind] : null);
    return {
      blocked: this.store.get("blocked") === true,
      flagged: flag !== undefined,
      flaggedAt: flag?.at ?? null,
      reasons: flag?.reasons ?? [],
      signals: stored
        ? {
            ...stored,
            distinct: estimateDistinct(this.store.get("sketch") ?? emptySketch()),
            hitRatio: { full: ratio("full"), incremental: ratio("incremental") },
          }
        : null,
      buckets: this.inspect(now),
    };
  }

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

  private state(): ClientState {
    return {
      emptyAt: { full: this.emptyAt("full"), incremental: this.emptyAt("incremental") },
      flagged: this.flag !== undefined,
      vouched: this.store.get("vouched") === true,
      signals: this.store.get("signals"),
    };
  }

  private keepUntil(): number {
    const { emptyAt, signals } = this.state();
    const tombstone = this.store.get("revoked");
    const credential = this.store.get("credential");
    // A fresh registration's copy is kept a while for its first sync; after that, as long as the rest.
    return Math.max(keepUntil(emptyAt, signals), tombstone ? tombstone.at + TOMBSTONE_MS : 0, credential ? credential.addedAt + TOMBSTONE_MS : 0);
  }

  /** Drops all state once both buckets have drained and the signals expired; a block or a flag stays. */
  async sweep(now: number = Date.now()): Promise<void> {
    // The credential's copy and a tombstone are kept a while beyond what sweepClient() knows of.
    const held = this.keepUntil();
    const verdict = held > now ? { wakeAt: held } : sweepClient(this.state(), this.store.get("blocked") === true, now);
    if ("wakeAt" in verdict) {
      await this.ctx.storage.setAlarm(verdict.wakeAt);
    } else if (verdict.drop !== "everything") {
      this.store.delete(...KINDS, "revoked");
      if (verdict.drop === "buckets-and-signals") this.store.delete("signals", "sketch", "samples", "vouched", "norm");
    } else {
      await this.ctx.storage.deleteAll();
    }
  }

  override async alarm(): Promise<void> {
    await this.sweep();
  }

  private async scheduleSweep(now: number = Date.now()): Promise<void> {
    const latest = Math.max(this.keepUntil(), now);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < latest) await this.ctx.storage.setAlarm(latest);
  }
}

/** The epoch only changes through the local /reset hook. */
export function bucketsOf(env: Env, user: Uint8Array, epoch: number): DurableObjectStub<ClientBuckets> {
  const name = epoch === 0 ? toHex(user) : `${epoch}:${toHex(user)}`;
  return env.CLIENT_BUCKETS.get(env.CLIENT_BUCKETS.idFromName(name));
}
