// The regimes compared: plain leaky buckets (no limits but a request rate, or one bucket for every
// lookup), and the service itself, whose decisions come from src/core: the same functions that
// src/domain/discovery.ts, src/objects/client-buckets.ts, src/objects/network-guard.ts,
// src/domain/admission.ts, src/domain/monitoring.ts and src/objects/monitor.ts call, here on state
// kept in memory.

import { admissionGuards, admitToNetwork, firstRefusal, type Admission, type GuardState } from "../../src/core/admission";
import { type BucketKind, type BucketPolicy, chargeBucket, largestFit } from "../../src/core/bucket";
import { chargeClient, refundCharge, sweepClient } from "../../src/core/client-state";
import type { Config } from "../../src/core/config";
import { type ChargeDecision, type ClientState, decideCharge, fullSyncLimit, largestAllowed, withProbation } from "../../src/core/charge-policy";
import { type Answered, type Flag, type Reason, type Rule, type Signals, evaluateRules, observeAnswer } from "../../src/core/flag-rules";
import { type Charged, runDiscoveryNow } from "../../src/core/discovery-steps";
import { type NormSample, type NormState, type NormView, type SyncRecord, emptyNorm, learnFromSync, removeSamples } from "../../src/core/hit-ratio-norm";
import { estimateDistinct, sketchOf } from "../../src/core/hyperloglog";
import { type EgressState, WINDOW_MINUTES, judgeWindow, noEpisode, probationDuring, revealToNetwork } from "../../src/core/egress";
import type { NoveltyState } from "../../src/core/novelty";
import { MINUTE_MS } from "../../src/core/time";
import { type Directory, identifiers } from "./world";

export interface Account {
  name: string;
  network: string;
  emptyAt: Record<BucketKind, number>;
  // What a ClientBuckets object keeps (src/objects/client-buckets.ts).
  signals?: Signals;
  sketch?: Uint8Array;
  novelty?: NoveltyState;
  samples?: NormSample[];
  flag?: Flag;
  /** Reporting only: when each rule would first have fired on this client's signals. */
  ruleFirstAt: Partial<Record<Rule, number>>;
}

export const newAccount = (name: string, network: string): Account => ({ name, network, emptyAt: { full: 0, incremental: 0 }, ruleFirstAt: {} });

/** What a lookup finds: the registered numbers among those asked (for S2, the ones added) and how many were removed. */
type Found = ReturnType<Directory["full"]>;

export type Answer = { ok: true; added: number[]; removed: number; newFlag: Flag | null } | { ok: false; retryAfterSeconds: number | null };

export interface Service {
  readonly detection: boolean;
  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer;
  /** The largest request the budget takes now, as a client can work out from the protocol and its own history. */
  fits(account: Account, kind: BucketKind, now: number): number;
  /**
   * Whether no full sync of the account can ever be answered again (flagged, QUARANTINE_BUDGET = 0):
   * what an enumerator learns from one refusal without Retry-After that stays so.
   */
  closed(account: Account): boolean;
  /** Whether an egress episode is in force for the syncs charged at `now` (as the isolates see it). */
  episodeAt(now: number): boolean;
  /** Whether incremental lookups have a budget of their own (else an enumerator does not spend on them). */
  readonly separateIncremental: boolean;
}

/** An alert of the egress control (src/objects/monitor.ts judgeEgress): an episode started or ended. */
export interface EgressAlert {
  at: number;
  episode: "started" | "ended";
  minute: number;
  revealed: number;
  limit: number;
}

/** An egress episode as monitor object 0 judges it: from its first abnormal minute to its end alert (null: still on). */
export interface Episode {
  start: number;
  alertAt: number;
  end: number | null;
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

  closed = (): boolean => false;
  episodeAt = (): boolean => false;

  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    if (numbers.length > this.limits.maxContacts) return { ok: false, retryAfterSeconds: null };
    const outcome = chargeBucket(this.policy, account.emptyAt[this.key(kind)], numbers.length, now);
    if (!outcome.ok) return { ok: false, retryAfterSeconds: outcome.retryAfterSeconds };
    account.emptyAt[this.key(kind)] = outcome.emptyAt;
    const found = kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - this.limits.s2DeltaMs);
    return { ok: true, ...found, newFlag: null };
  }
}

/** What a NetworkGuard object keeps: the network rule's state, and the egress control's revealed users (src/core/egress.ts). */
type NetworkState = GuardState & { revealedEmptyAt: number };

/**
 * The service itself: the two buckets, the rules, the global norm, the network guard and egress
 * control. Its decisions are src/core's; what is here is only where the state lives and the
 * synchronous calls where the service awaits an object or the database.
 */
export class IcdService implements Service {
  readonly detection = true;
  readonly separateIncremental = true;
  norm: NormState;
  /** What each NetworkGuard object keeps, by network. */
  private readonly guards = new Map<string, NetworkState>();
  /** Networks throttled for new clients, by the network rule or by what clients not yet established there were shown. */
  readonly throttledNetworks = new Set<string>();
  /** Of those, the ones egress control throttled (src/domain/admission.ts reportEgress). */
  readonly egressThrottledNetworks = new Set<string>();
  // Egress control, as monitor object 0 keeps it: users revealed to clients not yet established,
  // per minute (the last hour of them), the episode, and the next minute to judge.
  private egress: EgressState = noEpisode();
  private readonly revealed = new Map<number, number>();
  private nextMinute: number | null = null;
  readonly episodes: Episode[] = [];
  readonly alerts: EgressAlert[] = [];

  constructor(
    private readonly directory: Directory,
    private readonly config: Config,
    normSince: number,
  ) {
    this.norm = emptyNorm(normSince);
  }

  fits(account: Account, kind: BucketKind, now: number): number {
    return largestAllowed(this.configAt(now), this.state(account), kind, now);
  }

  closed(account: Account): boolean {
    return account.flag !== undefined && fullSyncLimit(this.config.maxContacts, this.state(account), this.config) < 1;
  }

  episodeAt(now: number): boolean {
    this.judgeUntil(now - this.config.monitorReadMs);
    return this.egress.since !== null;
  }

  /**
   * The configuration a charge at `now` runs under: discovery passes probationDuring(egressEpisode())
   * and ClientBuckets.charge() applies it with withProbation().
   */
  private configAt(now: number): Config {
    return withProbation(this.config, probationDuring(this.config.egress, this.episodeAt(now)));
  }

  /**
   * Judges every minute completed by `until` as Monitor.judgeEgress() does. Object 0 judges a
   * minute when the first tally of the next one reaches it, about a second after it ends; an isolate
   * reads the verdict every MONITOR_READ_SECONDS, so a sync sees a minute's verdict only once
   * monitorReadMs have passed after it (the worst case: read just before the verdict). Here every
   * minute is judged, quiet or not: the monitor judges only minutes followed by traffic, and the
   * real service has traffic every minute, this simulated one (a thousand clients) not.
   */
  private judgeUntil(until: number): void {
    if (this.nextMinute === null) return;
    for (; (this.nextMinute + 1) * MINUTE_MS <= until; this.nextMinute++) {
      const m = this.nextMinute;
      const window: number[] = [];
      for (let k = m - WINDOW_MINUTES; k < m; k++) window.push(this.revealed.get(k) ?? 0);
      this.revealed.delete(m - WINDOW_MINUTES);
      const revealed = this.revealed.get(m) ?? 0;
      const verdict = judgeWindow(this.config.egress, this.egress, window, revealed, m * MINUTE_MS);
      const limit = verdict.limit;
      this.egress = verdict.state;
      if (!verdict.change) continue;
      const at = (m + 1) * MINUTE_MS;
      this.alerts.push({ at, episode: verdict.change, minute: m * MINUTE_MS, revealed, limit: Math.round(limit) });
      if (verdict.change === "started") this.episodes.push({ start: verdict.state.since!, alertAt: at, end: null });
      else this.episodes.at(-1)!.end = at;
    }
  }

  /** The run is over: judges the minutes up to `end`, so that the episodes are complete. */
  finish(end: number): void {
    this.judgeUntil(end);
  }

  private state(account: Account): ClientState {
    return { emptyAt: account.emptyAt, flagged: account.flag !== undefined, vouched: false, signals: account.signals, sketch: account.sketch, novelty: account.novelty };
  }

  /**
   * src/domain/discovery.ts, discover(): the same steps (runDiscoveryNow() runs the sequence of
   * src/core/discovery-steps.ts), answered from memory. Nobody here fails to authenticate, and the
   * answer is looked up after its charge: in memory the order changes nothing.
   */
  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    const n = numbers.length;
    // As discovery.ts: with the novelty limit on, the charge gets the request's sketch.
    const sketch = this.config.detection.novelty ? sketchOf(identifiers(numbers)) : undefined;
    const end = runDiscoveryNow<Found, Flag | null>(
      {
        lookUp: () => (kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - this.config.s2DeltaMs)),
        charge: (fits) => ({ authenticated: true, charged: fits ? this.admitAndCharge(account, kind, n, sketch, now) : null }),
        refund: () => void (account.emptyAt[kind] = refundCharge(this.config, kind, account.emptyAt[kind], n, now)), // ClientBuckets.refund()
        observe: (charged, answer) => this.observeSync(account, kind, numbers, sketch ?? sketchOf(identifiers(numbers)), charged, answer, now),
      },
      { n, maxContacts: this.config.maxContacts, lookUpFirst: false },
    );
    switch (end.end) {
      case "answered":
        return { ok: true, ...end.answer, newFlag: end.observed };
      case "answer-empty":
        return { ok: true, added: [], removed: 0, newFlag: null };
      case "refused":
        return { ok: false, retryAfterSeconds: end.retryAfterSeconds };
      default:
        throw new Error(`the simulated service cannot end a sync as ${end.end}`);
    }
  }

  /** After the lookup, src/domain/observation.ts, observeSync(): the monitor first, then the client's object, then a new flag. */
  private observeSync(account: Account, kind: BucketKind, numbers: ArrayLike<number>, sketch: Uint8Array, charged: Charged, answer: Found, now: number): Flag | null {
    const n = numbers.length;
    const matches = answer.added.length + answer.removed;
    // As discovery.ts: only a client's first full sync teaches the norm, and none during an episode.
    const { norm, sample } = this.recordSync({ kind, identifiers: n, matches, flagged: charged.flagged, teaches: charged.fresh && !this.episodeAt(now) }, now);
    // Egress control counts what clients not yet established were shown (discovery.ts unjudgedFrom): over the service always, per network with the guard on.
    if (kind === "full" && !charged.established && matches > 0) this.reveal(account.network, Math.min(matches, this.config.detection.probationLimit), now);
    const wasFlagged = account.flag !== undefined;
    const { newFlag, samples } = this.observe(account, { kind, identifiers: n, matches, edge: charged.edge }, sketch, sample, norm.hitRatio, now);
    if (newFlag) this.norm = removeSamples(this.norm, samples, now); // Monitor.flag()
    this.noteRules(account, wasFlagged ? null : (newFlag?.reasons ?? []), norm.hitRatio, now);
    return newFlag;
  }

  /** ClientBuckets.sync(): a first sync that fits is admitted by its network before it is charged. */
  private admitAndCharge(account: Account, kind: BucketKind, n: number, sketch: Uint8Array | undefined, now: number): ChargeDecision {
    this.sweep(account, now);
    const tried = decideCharge(this.configAt(now), this.state(account), kind, n, now);
    if (tried.ok && tried.fresh) {
      const admitted = this.admitNewClient(account.network, now);
      if (!admitted.ok) return { ok: false, retryAfterSeconds: admitted.retryAfterSeconds };
    }
    return this.charge(account, kind, n, sketch, now);
  }

  /** ClientBuckets.charge(): chargeClient() on the account's state in memory, after the sweep its alarm would have run. */
  private charge(account: Account, kind: BucketKind, n: number, sketch: Uint8Array | undefined, now: number): ChargeDecision {
    this.sweep(account, now);
    const charged = chargeClient(this.configAt(now), this.state(account), kind, n, now, sketch);
    const { decision, emptyAt, signals } = charged;
    if (emptyAt !== undefined) account.emptyAt[kind] = emptyAt;
    if (signals !== undefined) account.signals = signals;
    if (charged.novelty !== undefined) account.novelty = charged.novelty;
    if (charged.sketch !== undefined) account.sketch = charged.sketch;
    if (charged.newFlag && !account.flag) {
      account.flag = charged.newFlag;
      this.norm = removeSamples(this.norm, account.samples ?? [], now); // Monitor.flag()
    }
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
    if (verdict.drop === "everything") Object.assign(account, { signals: undefined, sketch: undefined, novelty: undefined, samples: undefined, flag: undefined });
  }

  /** The monitoring's norm step (tallySync() in src/core/telemetry.ts): learnFromSync() on the norm in memory. */
  private recordSync(sync: SyncRecord, now: number): { norm: NormView; sample: NormSample | null } {
    const { state, norm, sample } = learnFromSync(this.norm, sync, now);
    this.norm = state;
    return { norm, sample };
  }

  /**
   * What the full sync of a client not yet established revealed: counted in its minute for monitor
   * object 0 (tallySync()), and handed to its network's guard (reportEgress(), NetworkGuard.reveal())
   * at once rather than with the isolate's next hand-over a second later. Clients have no ASN here,
   * so the per-ASN allowance (EGRESS_ASN_PER_DAY) is not modelled: the crowds are taken to come
   * from many ASNs (residential proxies), the way that defeats it.
   */
  private reveal(network: string, revealed: number, now: number): void {
    if (this.nextMinute === null) this.nextMinute = Math.floor(now / MINUTE_MS);
    const minute = Math.floor(now / MINUTE_MS);
    this.revealed.set(minute, (this.revealed.get(minute) ?? 0) + revealed);
    if (!this.config.guard) return;
    const guard = this.guardOf(network);
    const next = revealToNetwork(guard, revealed, this.config.egress.networkPerDay, now);
    guard.revealedEmptyAt = next.revealedEmptyAt;
    guard.throttledUntil = next.throttledUntil;
    if (next.throttledNow) {
      this.throttledNetworks.add(network);
      this.egressThrottledNetworks.add(network);
    }
  }

  private guardOf(key: string): NetworkState {
    let guard = this.guards.get(key);
    if (!guard) this.guards.set(key, (guard = { newClients: 0, throttledUntil: 0, revealedEmptyAt: 0 }));
    return guard;
  }

  /** src/domain/admission.ts over NetworkGuard.admitNewClient(): the network's guard (no ASN here: its 2,000 a day never binds). */
  private admitNewClient(network: string, now: number): Admission {
    const verdicts = admissionGuards(this.config, network, undefined).map(([key, perDay]) => {
      const guard = this.guardOf(key);
      const { admission, newClients, throttledUntil } = admitToNetwork(guard, perDay, now);
      if (newClients !== undefined) guard.newClients = newClients;
      if (throttledUntil !== undefined) guard.throttledUntil = throttledUntil;
      if (admission.throttledNow) this.throttledNetworks.add(key);
      return admission;
    });
    return firstRefusal(verdicts);
  }

  /**
   * Reporting only (not the service): when each rule would first fire, flagged or not. For a client
   * that was not flagged, observeAnswer() has just run the rules on this same evidence, and `fired`
   * is what they said (its new flag's reasons); a flagged one's rules run here (the sketch's
   * estimate is the costliest step of a sync, so it is not taken twice).
   */
  private noteRules(account: Account, fired: Reason[] | null, normHitRatio: number, now: number): void {
    const seen = account.ruleFirstAt;
    if (fired === null) {
      if (!account.signals || !account.sketch || (seen.distinct !== undefined && seen["hit-ratio"] !== undefined && seen.edge !== undefined)) return;
      fired = evaluateRules(account.signals, estimateDistinct(account.sketch), normHitRatio, this.config.detection);
    }
    for (const r of fired) seen[r.rule] ??= now;
  }
}
