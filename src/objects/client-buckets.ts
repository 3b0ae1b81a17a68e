// One Durable Object per client holds its two leaky buckets, its signals and a copy of its credential
// (the token's SHA-256), so a sync is authenticated, charged and observed in one call, one row written
// (src/objects/client-record.ts), without a D1 round trip. D1 stays the source of truth; a deletion leaves
// a tombstone so that a stale D1 read cannot bring the token back. Between reading the state and writing
// it a call never awaits (a first sync's admission is awaited before): no overspend.

import { DurableObject } from "cloudflare:workers";
import { firstRefusal } from "../core/admission";
import { type BucketKind, bucketLevel, bucketPolicy, largestFit } from "../core/bucket";
import { chargeClient, refundCharge, sweepClient } from "../core/client-state";
import { configOf } from "../core/config";
import { type ChargeDecision, type ClientState, keepUntil, withProbation } from "../core/charge-policy";
import { type Answered, type Flag, type Signals, emptySignals, observeAnswer } from "../core/flag-rules";
import { beforeCharge } from "../core/discovery-steps";
import { toHex } from "../core/hex";
import { sameHash } from "../core/token";
import { type NormSample, PRIOR_HIT_RATIO, sampleOf } from "../core/hit-ratio-norm";
import { emptySketch, estimateDistinct } from "../core/hyperloglog";
import { noveltyRoom } from "../core/novelty";
import { DAY_MS } from "../core/time";
import { type ClientRecord, ClientRecordStore, type Credential, type StorageTally, type Tombstone, emptyTally } from "./client-record";
import { type Admission, guardOf } from "./network-guard";

export type { Credential } from "./client-record";

/** A tombstone outlives any D1 read that could have started before the deletion. */
const TOMBSTONE_MS = DAY_MS;

export type ChargeResult = ChargeDecision | { ok: false; blocked: true };

/** A network guard's verdict on a client's first sync, as the Worker alerts on it. */
export type AdmissionVerdict = Admission & { throttledNow?: { accounts: number } };

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
  /** The network guards (key, new clients a day) that must admit the client's first sync before it is charged. */
  admission?: [string, number][];
  /** The request's identifiers as a sketch: what the novelty limit counts new ones with, and what the observation adds. */
  sketch?: Uint8Array | undefined;
  observation?: Observation | undefined;
}

/** "unknown": this object holds no credential; read it from D1 and call again with `learned`. */
export type SyncVerdict =
  | { auth: "unknown"; costs: StorageTally }
  | { auth: "invalid"; costs: StorageTally }
  | { auth: "ok"; charged: ChargeResult | null; observed?: Observed; admission?: AdmissionVerdict[]; costs: StorageTally };

/** What the answer showed, when the Worker looked it up before charging: recorded in the same call,
 * only if the charge succeeds. */
export interface Observation {
  matches: number;
  /** The norm this isolate knows, or null (then the one last given here). */
  normHitRatio: number | null;
  /** A first full sync teaches the norm (not during an egress episode): the client keeps its sample. */
  teaches: boolean;
}

export interface ClientView {
  blocked: boolean;
  flagged: boolean;
  flaggedAt: number | null;
  reasons: Flag["reasons"];
  signals: SignalsView | null;
  buckets: Record<BucketKind, BucketView>;
  /** With the novelty limit on (null: off). */
  novelty: NoveltyView | null;
}

export interface NoveltyView {
  /** New distinct identifiers the client may ask about now. */
  room: number;
  /** When its first book's window closes (0: closed). */
  windowEndsAt: number;
  refusals: number;
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
  private readonly store = new ClientRecordStore(this.ctx.storage);

  /** Authenticates, then charges as charge() does and records the observation it brings; a request of
   * no identifiers or of more than `maxContacts` is not charged: the caller answers it. */
  async sync(req: SyncRequest, now: number = Date.now()): Promise<SyncVerdict> {
    const costs = emptyTally();
    const auth = this.authenticate(req, costs);
    if (auth !== "ok") return { auth, costs };
    if (beforeCharge(req.n, req.maxContacts).step !== "charge") {
      const record = this.learn(req, costs);
      return { auth: "ok", charged: record.blocked ? { ok: false, blocked: true } : null, costs };
    }
    let admission: AdmissionVerdict[] | undefined;
    const tried = this.chargeRecord({ ...this.store.read(costs) }, req, now).charged;
    if (tried.ok && tried.fresh && req.admission?.length) {
      // A first sync that fits: its network's guards admit it before anything is charged or written.
      admission = await this.admit(req.admission, now);
      const refused = firstRefusal(admission);
      if (!refused.ok) return { auth: "ok", charged: { ok: false, retryAfterSeconds: refused.retryAfterSeconds }, admission, costs };
      // The state may have changed while the guards answered (a deletion, a concurrent charge): decide again.
      if (this.authenticate(req, costs) !== "ok") return { auth: "invalid", costs };
    }
    const record = { ...this.store.read(costs) };
    if (req.learned && !record.credential) record.credential = req.learned;
    const { charged, newFlag } = this.chargeRecord(record, req, now);
    if ("blocked" in charged) return { auth: "ok", charged, costs };
    // A flag the novelty limit raised on a refusal is announced like any other.
    let observed: Observed | undefined = newFlag ? { newFlag, samples: record.samples ?? [] } : undefined;
    if (req.observation && req.sketch && charged.ok) {
      const { matches, normHitRatio, teaches } = req.observation;
      // Only a client's first full sync teaches the norm, and only outside an egress episode.
      const sample = charged.fresh && teaches && req.kind === "full" && !charged.flagged ? sampleOf(req.n, matches, now) : null;
      observed = this.recordObservation(record, { kind: req.kind, identifiers: req.n, matches, edge: charged.edge }, req.sketch, sample, normHitRatio, now);
    }
    this.store.write(record, costs);
    await this.scheduleSweep(record, now, costs);
    return { auth: "ok", charged, ...(observed && { observed }), ...(admission && { admission }), costs };
  }

  /** The record, with the credential read from D1 kept when the object held none. */
  private learn(req: SyncRequest, costs: StorageTally): ClientRecord {
    const record = this.store.read(costs);
    if (!req.learned || record.credential) return record;
    const learned = { ...record, credential: req.learned };
    this.store.write(learned, costs);
    return learned;
  }

  /** "ok" once the object holds the credential the token matches (learning `req.learned` if it holds none). */
  private authenticate(req: SyncRequest, costs: StorageTally): "ok" | "unknown" | "invalid" {
    const record = this.store.read(costs);
    const credential = record.credential ?? (req.learned && !this.revokes(record, req.learned) ? req.learned : undefined);
    if (!credential) return req.learned ? "invalid" : "unknown";
    return sameHash(new Uint8Array(credential.tokenHash), new Uint8Array(req.tokenHash)) ? "ok" : "invalid";
  }

  /** Fails open: a guard that does not answer costs less than every new client refused. */
  private async admit(guards: [string, number][], now: number): Promise<AdmissionVerdict[]> {
    return Promise.all(
      guards.map(([key, perDay]) =>
        guardOf(this.env, key)
          .admitNewClient(perDay, now)
          .catch((error: Error): AdmissionVerdict => {
            console.error(`network admission failed: ${error.message}`);
            return { ok: true };
          }),
      ),
    );
  }

  /** A registration (or re-registration) in D1 made `credential` the user's: it replaces any copy or tombstone. */
  async setCredential(credential: Credential, now: number = Date.now()): Promise<void> {
    const costs = emptyTally();
    const { revoked: _, ...record } = this.store.read(costs);
    record.credential = credential;
    this.store.write(record, costs);
    await this.scheduleSweep(record, now, costs);
  }

  /** Called before a deletion reaches D1: the tombstone refuses a copy that an earlier D1 read might
   * bring back; a registration newer than it is learned as usual. */
  async revokeCredential(tokenHash: Uint8Array | null, now: number = Date.now()): Promise<void> {
    const costs = emptyTally();
    const record = { ...this.store.read(costs) };
    const stored = record.credential;
    if (!stored || tokenHash === null || sameHash(new Uint8Array(stored.tokenHash), new Uint8Array(tokenHash))) delete record.credential;
    record.revoked = { tokenHash, at: now } satisfies Tombstone;
    this.store.write(record, costs);
    await this.scheduleSweep(record, now, costs);
  }

  /** Whether a deletion here is newer than the registration `learned` was read from. */
  private revokes(record: ClientRecord, learned: Credential): boolean {
    const tombstone = record.revoked;
    if (!tombstone || learned.addedAt > tombstone.at) return false;
    return tombstone.tokenHash === null || sameHash(new Uint8Array(tombstone.tokenHash), new Uint8Array(learned.tokenHash));
  }

  /** A refusal for the budget is counted among the signals. */
  async charge(kind: BucketKind, n: number, now: number = Date.now(), probationLimit?: number): Promise<ChargeResult> {
    const costs = emptyTally();
    const record = { ...this.store.read(costs) };
    const { charged } = this.chargeRecord(record, { kind, n, probationLimit }, now);
    if ("blocked" in charged) return charged;
    this.store.write(record, costs);
    await this.scheduleSweep(record, now, costs);
    return charged;
  }

  /** Changes `record` in place; the caller writes it. With the request's sketch, the novelty limit applies. */
  private chargeRecord(record: ClientRecord, req: Pick<SyncRequest, "kind" | "n" | "probationLimit" | "sketch">, now: number): { charged: ChargeResult; newFlag?: Flag } {
    if (record.blocked) return { charged: { ok: false, blocked: true } };
    const config = withProbation(configOf(this.env), req.probationLimit);
    const { decision, emptyAt, signals, novelty, sketch, newFlag } = chargeClient(config, this.state(record), req.kind, req.n, now, req.sketch);
    if (emptyAt !== undefined) record[req.kind] = emptyAt;
    if (signals !== undefined) record.signals = signals;
    if (novelty !== undefined) record.novelty = novelty;
    if (sketch !== undefined) record.sketch = sketch;
    if (newFlag && !record.flag) {
      record.flag = newFlag;
      return { charged: decision, newFlag };
    }
    return { charged: decision };
  }

  async observe(answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number = Date.now()): Promise<Observed & { costs: StorageTally }> {
    const costs = emptyTally();
    const record = { ...this.store.read(costs) };
    const observed = this.recordObservation(record, answered, sketch, sample, normHitRatio, now);
    this.store.write(record, costs);
    await this.scheduleSweep(record, now, costs);
    return { ...observed, costs };
  }

  /** Changes `record` in place; the caller writes it. */
  private recordObservation(record: ClientRecord, answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number): Observed {
    // The client is judged with what it holds: the norm it was last given when none comes now (the
    // shared monitoring is down or not yet heard from), and the prior before it was ever given one.
    if (normHitRatio !== null) record.norm = normHitRatio;
    else normHitRatio = record.norm ?? PRIOR_HIT_RATIO;
    const evidence = { signals: record.signals, sketch: record.sketch, samples: record.samples, flag: record.flag };
    const observed = observeAnswer(evidence, answered, sketch, sample, normHitRatio, configOf(this.env).detection, now);
    record.signals = observed.signals;
    record.sketch = observed.sketch;
    record.samples = observed.samples;
    if (observed.newFlag) record.flag = observed.newFlag;
    return { newFlag: observed.newFlag, samples: observed.samples };
  }

  /** Signals start afresh so that old evidence does not flag again; the client counts as judged meanwhile. */
  async clearFlag(now: number = Date.now()): Promise<boolean> {
    const costs = emptyTally();
    const { flag, sketch: _sketch, samples: _samples, novelty: _novelty, ...record } = this.store.read(costs);
    this.store.write({ ...record, signals: emptySignals(now), vouched: true }, costs);
    await this.sweep(now);
    return flag !== undefined;
  }

  /** Gives back a charge whose answer could not be delivered. */
  async refund(kind: BucketKind, n: number, now: number = Date.now()): Promise<void> {
    const costs = emptyTally();
    const record = { ...this.store.read(costs) };
    const emptyAt = refundCharge(configOf(this.env), kind, record[kind] ?? 0, n, now);
    if (emptyAt === 0) delete record[kind];
    else record[kind] = emptyAt;
    this.store.write(record, costs);
  }

  block(): void {
    this.store.write({ ...this.store.read(emptyTally()), blocked: true }, emptyTally());
  }

  async unblock(now: number = Date.now()): Promise<void> {
    const { blocked: _, ...record } = this.store.read(emptyTally());
    this.store.write(record, emptyTally());
    await this.sweep(now);
  }

  /** Empties both buckets (an operator's reset); a block stays. */
  async resetBuckets(now: number = Date.now()): Promise<void> {
    const { full: _full, incremental: _incremental, ...record } = this.store.read(emptyTally());
    this.store.write(record, emptyTally());
    await this.sweep(now);
  }

  inspectClient(now: number = Date.now()): ClientView {
    const record = this.store.read(emptyTally());
    const { flag, signals } = record;
    const ratio = (kind: BucketKind) => (signals && signals.identifiers[kind] > 0 ? signals.matches[kind] / signals.identifiers[kind] : null);
    return {
      blocked: record.blocked === true,
      flagged: flag !== undefined,
      flaggedAt: flag?.at ?? null,
      reasons: flag?.reasons ?? [],
      signals: signals
        ? {
            ...signals,
            distinct: estimateDistinct(record.sketch ?? emptySketch()),
            hitRatio: { full: ratio("full"), incremental: ratio("incremental") },
          }
        : null,
      buckets: this.inspect(now),
      novelty: this.noveltyView(record, now),
    };
  }

  private noveltyView(record: ClientRecord, now: number): NoveltyView | null {
    const policy = configOf(this.env).detection.novelty;
    if (!policy) return null;
    const firstAt = record.signals?.firstAt;
    const windowEndsAt = firstAt === undefined ? 0 : firstAt + policy.windowMs;
    return {
      room: noveltyRoom(policy, record.novelty, firstAt, record.sketch, now),
      windowEndsAt: windowEndsAt > now ? windowEndsAt : 0,
      refusals: record.novelty?.refusals ?? 0,
    };
  }

  inspect(now: number = Date.now()): Record<BucketKind, BucketView> {
    const config = configOf(this.env);
    const record = this.store.read(emptyTally());
    const view = (kind: BucketKind): BucketView => {
      const policy = bucketPolicy(config, kind);
      const emptyAt = record[kind] ?? 0;
      return {
        level: bucketLevel(policy, emptyAt, now),
        emptyAt: emptyAt > now ? emptyAt : 0,
        largestFit: largestFit(policy, emptyAt, now),
      };
    };
    return { full: view("full"), incremental: view("incremental") };
  }

  private state(record: ClientRecord): ClientState {
    return {
      emptyAt: { full: record.full ?? 0, incremental: record.incremental ?? 0 },
      flagged: record.flag !== undefined,
      vouched: record.vouched === true,
      signals: record.signals,
      sketch: record.sketch,
      novelty: record.novelty,
    };
  }

  private keepUntil(record: ClientRecord): number {
    const { emptyAt, signals } = this.state(record);
    // A fresh registration's copy is kept a while for its first sync; after that, as long as the rest.
    return Math.max(keepUntil(emptyAt, signals), record.revoked ? record.revoked.at + TOMBSTONE_MS : 0, record.credential ? record.credential.addedAt + TOMBSTONE_MS : 0);
  }

  /** Drops all state once both buckets have drained and the signals expired; a block or a flag stays. */
  async sweep(now: number = Date.now()): Promise<void> {
    const costs = emptyTally();
    const record = this.store.read(costs);
    // The credential's copy and a tombstone are kept a while beyond what sweepClient() knows of.
    const held = this.keepUntil(record);
    const verdict = held > now ? { wakeAt: held } : sweepClient(this.state(record), record.blocked === true, now);
    if ("wakeAt" in verdict) {
      await this.store.setAlarm(verdict.wakeAt, costs);
    } else if (verdict.drop === "everything") {
      await this.store.clear(costs);
    } else {
      const { full: _f, incremental: _i, revoked: _r, ...kept } = record;
      const dropSignals = verdict.drop === "buckets-and-signals";
      const { signals: _s, sketch: _k, samples: _m, vouched: _v, norm: _n, novelty: _y, ...bare } = kept;
      this.store.write(dropSignals ? bare : kept, costs);
    }
  }

  override async alarm(): Promise<void> {
    this.store.alarmFired();
    await this.sweep();
  }

  /** Never later than the state must be kept; an alarm already set stays (one that comes early re-arms from sweep()). */
  private async scheduleSweep(record: ClientRecord, now: number, costs: StorageTally): Promise<void> {
    await this.store.ensureAlarm(Math.max(this.keepUntil(record), now, Date.now()), costs);
  }
}

/** The epoch only changes through the local /reset hook. */
export function bucketsOf(env: Env, user: Uint8Array, epoch: number): DurableObjectStub<ClientBuckets> {
  const name = epoch === 0 ? toHex(user) : `${epoch}:${toHex(user)}`;
  return env.CLIENT_BUCKETS.get(env.CLIENT_BUCKETS.idFromName(name));
}
