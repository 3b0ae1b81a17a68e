// The regimes compared: plain leaky buckets (no limits but a request rate, or one bucket for every
// lookup), and the service itself, whose decisions come from src/core: the same functions that
// src/domain/discovery.ts, src/objects/client-buckets.ts, src/objects/network-guard.ts,
// src/domain/admission.ts and src/objects/monitor.ts call, here on state kept in memory.

import { admissionGuards, admitToNetwork, firstRefusal, type Admission, type GuardState } from "../../src/core/admission";
import { type BucketKind, type BucketPolicy, chargeBucket, largestFit } from "../../src/core/bucket";
import { chargeClient, refundCharge, sweepClient } from "../../src/core/client-state";
import type { Config } from "../../src/core/config";
import { type ClientState, type Answered, type ChargeDecision, type Flag, type Rule, type Signals, evaluateRules, largestAllowed, observeAnswer } from "../../src/core/detection";
import { type Charged, type DiscoveryStep, afterAdmission, afterCharge, beforeCharge } from "../../src/core/discovery-steps";
import { type NormSample, type NormState, type NormView, type SyncRecord, emptyNorm, learnFromSync, removeSamples } from "../../src/core/hit-ratio-norm";
import { estimateDistinct, sketchOf } from "../../src/core/hyperloglog";
import { type Directory, identifiers } from "./world";

export interface Account {
  name: string;
  network: string;
  emptyAt: Record<BucketKind, number>;
  // What a ClientBuckets object keeps (src/objects/client-buckets.ts).
  signals?: Signals;
  sketch?: Uint8Array;
  samples?: NormSample[];
  flag?: Flag;
  /** Reporting only: when each rule would first have fired on this client's signals. */
  ruleFirstAt: Partial<Record<Rule, number>>;
}

export const newAccount = (name: string, network: string): Account => ({ name, network, emptyAt: { full: 0, incremental: 0 }, ruleFirstAt: {} });

export type Answer = { ok: true; added: number[]; removed: number; newFlag: Flag | null } | { ok: false; retryAfterSeconds: number | null };

export interface Service {
  readonly detection: boolean;
  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer;
  /** The largest request the budget takes now, as a client can work out from the protocol and its own history. */
  fits(account: Account, kind: BucketKind, now: number): number;
  /** Whether incremental lookups have a budget of their own (else an enumerator does not spend on them). */
  readonly separateIncremental: boolean;
}

/** (a) and (b): one leaky bucket per account and kind (or one for both), nothing else. */
export class PlainService implements Service {
  readonly detection = false;
  constructor(
    private readonly directory: Directory,
    private readonly policy: BucketPolicy,
    readonly separateIncremental: boolean,
    /** The most identifiers a request may carry, and how long a change stays in S2: the service's. */
    private readonly limits: Pick<Config, "maxContacts" | "s2DeltaMs">,
  ) {}

  private key = (kind: BucketKind): BucketKind => (this.separateIncremental ? kind : "full");

  fits(account: Account, kind: BucketKind, now: number): number {
    return Math.min(this.limits.maxContacts, largestFit(this.policy, account.emptyAt[this.key(kind)], now));
  }

  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    if (numbers.length > this.limits.maxContacts) return { ok: false, retryAfterSeconds: null };
    const outcome = chargeBucket(this.policy, account.emptyAt[this.key(kind)], numbers.length, now);
    if (!outcome.ok) return { ok: false, retryAfterSeconds: outcome.retryAfterSeconds };
    account.emptyAt[this.key(kind)] = outcome.emptyAt;
    const found = kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - this.limits.s2DeltaMs);
    return { ok: true, ...found, newFlag: null };
  }
}

/**
 * The service itself: the two buckets, the rules, the global norm and the network guard. Its
 * decisions are src/core's; what is here is only where the state lives and the synchronous calls
 * where the service awaits an object or the database.
 */
export class IcdService implements Service {
  readonly detection = true;
  readonly separateIncremental = true;
  norm: NormState;
  /** What each NetworkGuard object keeps for the network rule, by network. */
  private readonly guards = new Map<string, GuardState>();
  readonly throttledNetworks = new Set<string>();

  constructor(
    private readonly directory: Directory,
    private readonly config: Config,
    normSince: number,
  ) {
    this.norm = emptyNorm(normSince);
  }

  fits(account: Account, kind: BucketKind, now: number): number {
    return largestAllowed(this.config, this.state(account), kind, now);
  }

  private state(account: Account): ClientState {
    return { emptyAt: account.emptyAt, flagged: account.flag !== undefined, vouched: false, signals: account.signals };
  }

  /** src/domain/discovery.ts, discover(), after authentication: its steps, in the order src/core/discovery-steps.ts gives. */
  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    const n = numbers.length;
    let step: DiscoveryStep = beforeCharge(n, this.config.maxContacts);
    for (;;) {
      switch (step.step) {
        case "charge":
          step = afterCharge(this.charge(account, kind, n, now));
          break;
        case "admit":
          step = afterAdmission(step.charged, this.admitNewClient(account.network, now));
          break;
        case "refuse":
          if (step.refund) account.emptyAt[kind] = refundCharge(this.config, kind, account.emptyAt[kind], n, now); // ClientBuckets.refund()
          return { ok: false, retryAfterSeconds: step.retryAfterSeconds };
        case "answer-empty":
          return { ok: true, added: [], removed: 0, newFlag: null };
        case "look-up":
          return this.lookUp(account, kind, numbers, step.charged, now);
      }
    }
  }

  /** The lookup, then src/domain/observation.ts, observeSync(): the monitor first, then the client's object, then a new flag. */
  private lookUp(account: Account, kind: BucketKind, numbers: ArrayLike<number>, charged: Charged, now: number): Answer {
    const n = numbers.length;
    const answer = kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - this.config.s2DeltaMs);
    const matches = answer.added.length + answer.removed;
    const { norm, sample } = this.recordSync({ kind, identifiers: n, matches, flagged: charged.flagged }, now);
    const { newFlag, samples } = this.observe(account, { kind, identifiers: n, matches, edge: charged.edge }, sketchOf(identifiers(numbers)), sample, norm.hitRatio, now);
    if (newFlag) this.norm = removeSamples(this.norm, samples, now); // Monitor.flag()
    this.noteRules(account, norm.hitRatio, now);
    return { ok: true, ...answer, newFlag };
  }

  /** ClientBuckets.charge(): chargeClient() on the account's state in memory, after the sweep its alarm would have run. */
  private charge(account: Account, kind: BucketKind, n: number, now: number): ChargeDecision {
    this.sweep(account, now);
    const { decision, emptyAt, signals } = chargeClient(this.config, this.state(account), kind, n, now);
    if (emptyAt !== undefined) account.emptyAt[kind] = emptyAt;
    if (signals !== undefined) account.signals = signals;
    return decision;
  }

  /** ClientBuckets.observe(): the same observeAnswer(), on the account's evidence in memory. */
  private observe(account: Account, answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number) {
    const { newFlag, ...evidence } = observeAnswer(account, answered, sketch, sample, normHitRatio, this.config.detection, now);
    Object.assign(account, evidence);
    if (newFlag) account.flag = newFlag;
    return { newFlag, samples: evidence.samples };
  }

  /** ClientBuckets.sweep() as its alarm would run it (no operator here, so no block). */
  private sweep(account: Account, now: number): void {
    const verdict = sweepClient(this.state(account), false, now);
    if ("wakeAt" in verdict) return;
    account.emptyAt = { full: 0, incremental: 0 };
    // Without a block the verdict is "buckets" (a flag keeps the signals behind it) or "everything".
    if (verdict.drop === "everything") Object.assign(account, { signals: undefined, sketch: undefined, samples: undefined, flag: undefined });
  }

  /** The monitoring's norm step (tallySync() in src/core/telemetry.ts): learnFromSync() on the norm in memory. */
  private recordSync(sync: SyncRecord, now: number): { norm: NormView; sample: NormSample | null } {
    const { state, norm, sample } = learnFromSync(this.norm, sync, now);
    this.norm = state;
    return { norm, sample };
  }

  /** src/domain/admission.ts over NetworkGuard.admitNewClient(): the network's guard (no ASN here: its 2,000 a day never binds). */
  private admitNewClient(network: string, now: number): Admission {
    const verdicts = admissionGuards(this.config, network, undefined).map(([key, perDay]) => {
      const guard = this.guards.get(key) ?? { newClients: 0, throttledUntil: 0 };
      const { admission, newClients, throttledUntil } = admitToNetwork(guard, perDay, now);
      this.guards.set(key, { newClients: newClients ?? guard.newClients, throttledUntil: throttledUntil ?? guard.throttledUntil });
      if (admission.throttledNow) this.throttledNetworks.add(key);
      return admission;
    });
    return firstRefusal(verdicts);
  }

  /** Reporting only (not the service): when each rule would first fire, flagged or not. */
  private noteRules(account: Account, normHitRatio: number, now: number): void {
    if (!account.signals || !account.sketch) return;
    for (const r of evaluateRules(account.signals, estimateDistinct(account.sketch), normHitRatio, this.config.detection)) account.ruleFirstAt[r.rule] ??= now;
  }
}
