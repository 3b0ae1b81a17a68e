// `npm run simulate [-- --seed N --days D --honest N --sybil-per-day N]`: how well the budgets and
// the enumeration rules stop enumerators, and whether they ever flag honest clients.
//
// The service's own pure logic (src/bucket.ts, src/detection.ts, src/hyperloglog.ts,
// src/hit-ratio-norm.ts, parsed from wrangler.toml's [env.production] vars by src/config.ts) is
// composed here the way src/discovery.ts, src/client-buckets.ts, src/observation.ts and
// src/monitor.ts compose it, in memory and on a simulated clock: no Workers runtime, no HTTP.
// Honest clients follow client/src/client.js (incremental for contacts checked within
// S2_DELTA - 1 day, full for the rest, the part that fits after a 429). Same seed, same figures.
// Writes docs/simulation.json and docs/simulation.svg; docs/simulation.md says what they show.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { type BucketKind, type BucketPolicy, bucketPolicy, chargeBucket, largestFit, refundBucket } from "../src/core/bucket";
import { type Config, parseConfig } from "../src/core/config";
import {
  type Answered,
  type ChargeDecision,
  type ClientState,
  type Flag,
  type Rule,
  type Signals,
  decideCharge,
  emptySignals,
  evaluateRules,
  keepUntil,
  largestAllowed,
  observeAnswer,
  recordRefusal,
} from "../src/core/detection";
import { type NormSample, type NormState, type NormView, addSample, emptyNorm, normOf, removeSamples } from "../src/core/hit-ratio-norm";
import { estimateDistinct, sketchOf } from "../src/core/hyperloglog";

const started = performance.now();
/** The command as typed, without where its output went. */
const command = ["npm run simulate", ...process.argv.slice(2).filter((a, i, all) => a !== "--out" && all[i - 1] !== "--out")].join(" ").replace(/simulate (?=-)/, "simulate -- ");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const { values: opt } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    days: { type: "string", default: "30" },
    honest: { type: "string", default: "1000" },
    users: { type: "string", default: "1000000" },
    space: { type: "string", default: "10000000" },
    "sybil-accounts": { type: "string", default: "200" },
    "sybil-per-day": { type: "string", default: "7" },
    out: { type: "string", default: "docs" },
    /** What-if: override a wrangler.toml var, e.g. --set DETECT_EDGE_SYNCS=7 (repeatable). */
    set: { type: "string", multiple: true, default: [] },
  },
});
const int = (name: keyof typeof opt) => {
  const v = Number(opt[name]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a whole number, got ${opt[name]}`);
  return v;
};
const SEED = int("seed");
const DAYS = int("days");
const HONEST = int("honest");
const USERS = int("users");
const SPACE = int("space"); // national numbers 0 .. SPACE-1
const SYBIL_ACCOUNTS = int("sybil-accounts");
const SYBIL_PER_DAY = Math.max(1, int("sybil-per-day"));
if (USERS > SPACE / 2) throw new Error("--users must be at most half of --space");
if (SPACE * SPACE >= 2 ** 53) throw new Error("--space must be below 94 million");

// ---- Assumptions (everything the figures depend on that is not the service's code) ----

const T0 = Date.UTC(2026, 0, 1); // day 0: the enumerators start
const END = T0 + DAYS * DAY;
/** Honest clients that were already there sync for the first time in the week before day 0, so the norm is learned. */
const WARMUP_DAYS = 7;
/** Churn starts S2_DELTA before the warm-up, so S2 is full from the start. */
const CHURN_START = T0 - (WARMUP_DAYS + 10) * DAY;
const REGISTRATIONS_PER_DAY = 300;
const REMOVALS_PER_DAY = 200;
/** The client library's margin: contacts checked within S2_DELTA - this go to the incremental endpoint. */
const CLIENT_MARGIN_MS = DAY;
/** Honest clients' behaviour. */
const JOIN_DURING_RUN = 0.1; // share of honest clients whose first sync is during the run, not before
const NEW_CONTACTS_PER_DAY = 0.15; // chance a client adds 1 to 3 contacts on a given day
const REINSTALL_SHARE = 0.05; // reinstall once (state lost: everything checked in full again)
const OFFLINE_SHARE = 0.1; // go offline once for 7 to 25 days
/** A second, deliberately hard honest cohort: big address books (CRM-synced phones) with few users among them. */
const LARGE_BOOKS = Math.round(HONEST / 20);
/** Regime (a): no limits but a plausible request rate: 100 requests of MAX_CONTACTS per hour per account. */
const NO_LIMIT_REQUESTS_PER_HOUR = 100;
/** Regime (b): one bucket for every lookup, full or incremental. */
const SINGLE_BUCKET = { capacity: 20_000, drainMs: DAY };
/** Enumerators. */
const SLOW_PER_DAY = 1_500;
const EVASIVE_TARGET_RATIO = 0.15; // the hit ratio the evasive enumerator pads its requests up to
const EVASIVE_SEED_KNOWN = 500; // registered numbers it knows at the start (its own accounts, a leak)
const EVASIVE_FREE = 1_100; // contacts it leaves free in the bucket: the edge is under 5% (1,000) free
const EVASIVE_MIN_BATCH = 500;

// ---- Configuration: the production vars of wrangler.toml, parsed by the service's own parser ----

const overrides = Object.fromEntries(
  opt.set!.map((kv) => {
    const [key, value] = kv.split("=");
    if (!key || value === undefined) throw new Error(`--set takes KEY=VALUE, got ${kv}`);
    return [key, value];
  }),
);
const productionVars = { ...(unstable_readConfig({ config: "wrangler.toml", env: "production" }).vars as Record<string, unknown>), ...overrides };
const production = parseConfig(productionVars);
const budgetsOnly = parseConfig({ ...productionVars, QUARANTINE_BUDGET: 1 }); // rules run, flags change nothing
const M = production.maxContacts;

// ---- Seeded randomness ----

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** An independent stream per purpose, so that changing one part of the scenario leaves the others' draws alone. */
function stream(name: string): () => number {
  let h = 2166136261; // FNV-1a of "seed:name", then a final mix
  for (const c of `${SEED}:${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return mulberry32(h ^ (h >>> 13));
}
const below = (rand: () => number, n: number) => Math.floor(rand() * n);
const between = (rand: () => number, lo: number, hi: number) => lo + rand() * (hi - lo);

/**
 * An order of the number space without repeats, i -> (a*i + b) mod SPACE with a coprime with SPACE:
 * not a random permutation, but the directory is a uniform random subset, so any fixed walk sees its density.
 */
function permutation(rand: () => number): (i: number) => number {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  let a = 0;
  do a = 1 + below(rand, SPACE - 1);
  while (gcd(a, SPACE) !== 1 || a < SPACE / 10);
  const b = below(rand, SPACE);
  return (i) => (((a * i) % SPACE) + b) % SPACE; // exact: a * i < SPACE^2 < 2^53
}

// ---- Identifiers: the bytes the service sees (and its sketch hashes) ----
// The real client sends SHA-256 of "+<number>" (32 bytes). Hashing tens of millions of numbers that
// way would take minutes (3 us each), so a number's identifier here is its 8-byte big-endian value:
// the sketch hashes it with MurmurHash3 all the same, and its estimates on consecutive numbers are as
// good as on random ones (checked at 1,000 to 45,000 consecutive numbers: mean error under 1%).

const idBytes = new Uint8Array(8);
const idView = new DataView(idBytes.buffer);
function* identifiers(numbers: ArrayLike<number>): Generator<Uint8Array> {
  for (let i = 0; i < numbers.length; i++) {
    idView.setUint32(4, numbers[i]!);
    yield idBytes; // hashed at once by the sketch, so one buffer serves every identifier
  }
}

// ---- The directory: registered users as a bitmap over the number space, with churn ----

interface ChurnEvent {
  at: number;
  number: number;
  register: boolean;
}

function baseDirectory(): { registered: Uint8Array; list: Int32Array } {
  const rand = stream("directory");
  const registered = new Uint8Array(SPACE);
  const list = new Int32Array(USERS);
  for (let n = 0; n < USERS; ) {
    const x = below(rand, SPACE);
    if (!registered[x]) {
      registered[x] = 1;
      list[n++] = x;
    }
  }
  return { registered, list };
}

function churnEvents(base: Uint8Array): ChurnEvent[] {
  const rand = stream("churn");
  const registered = base.slice();
  const events: ChurnEvent[] = [];
  for (let day = CHURN_START; day < END; day += DAY) {
    const today: ChurnEvent[] = [];
    for (let i = 0; i < REGISTRATIONS_PER_DAY; i++) today.push({ at: day + below(rand, DAY), number: -1, register: true });
    for (let i = 0; i < REMOVALS_PER_DAY; i++) today.push({ at: day + below(rand, DAY), number: -1, register: false });
    today.sort((x, y) => x.at - y.at);
    for (const e of today) {
      // A registration takes an unregistered number, a removal a registered one, as things stand then.
      do e.number = below(rand, SPACE);
      while (registered[e.number] === (e.register ? 1 : 0));
      registered[e.number] = e.register ? 1 : 0;
      events.push(e);
    }
  }
  return events;
}

class Directory {
  readonly registered: Uint8Array;
  /** The latest change of each number that ever changed: S2 is those at or after now - S2_DELTA. */
  private readonly changes = new Map<number, { at: number; registered: boolean }>();
  private next = 0;

  constructor(base: Uint8Array, private readonly churn: ChurnEvent[]) {
    this.registered = base.slice();
  }

  /** Applies the churn up to `now`. */
  advance(now: number): void {
    for (; this.next < this.churn.length && this.churn[this.next]!.at <= now; this.next++) {
      const e = this.churn[this.next]!;
      this.registered[e.number] = e.register ? 1 : 0;
      this.changes.set(e.number, { at: e.at, registered: e.register });
    }
  }

  /** What db.findRegistered answers: the registered numbers among `numbers`. */
  full(numbers: ArrayLike<number>): { added: number[]; removed: number } {
    const added: number[] = [];
    for (let i = 0; i < numbers.length; i++) if (this.registered[numbers[i]!]) added.push(numbers[i]!);
    return { added, removed: 0 };
  }

  /** What db.findChanges answers: added (still registered) and removed within S2. */
  incremental(numbers: ArrayLike<number>, since: number): { added: number[]; removed: number } {
    const added: number[] = [];
    let removed = 0;
    for (let i = 0; i < numbers.length; i++) {
      const change = this.changes.get(numbers[i]!);
      if (!change || change.at < since) continue;
      if (change.registered) added.push(numbers[i]!);
      else removed++;
    }
    return { added, removed };
  }
}

// ---- The services: the regimes compared ----

interface Account {
  name: string;
  network: string;
  emptyAt: Record<BucketKind, number>;
  // What a ClientBuckets object keeps (src/client-buckets.ts).
  signals?: Signals;
  sketch?: Uint8Array;
  samples?: NormSample[];
  flag?: Flag;
  /** Reporting only: when each rule would first have fired on this client's signals. */
  ruleFirstAt: Partial<Record<Rule, number>>;
}

const newAccount = (name: string, network: string): Account => ({ name, network, emptyAt: { full: 0, incremental: 0 }, ruleFirstAt: {} });

type Answer = { ok: true; added: number[]; removed: number; newFlag: Flag | null } | { ok: false; retryAfterSeconds: number | null };

interface Service {
  readonly detection: boolean;
  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer;
  /** The largest request the budget takes now, as a client can work out from the protocol and its own history. */
  fits(account: Account, kind: BucketKind, now: number): number;
  /** Whether incremental lookups have a budget of their own (else an enumerator does not spend on them). */
  readonly separateIncremental: boolean;
}

/** (a) and (b): one leaky bucket per account and kind (or one for both), nothing else. */
class PlainService implements Service {
  readonly detection = false;
  constructor(
    private readonly directory: Directory,
    private readonly policy: BucketPolicy,
    readonly separateIncremental: boolean,
  ) {}

  private key = (kind: BucketKind): BucketKind => (this.separateIncremental ? kind : "full");

  fits(account: Account, kind: BucketKind, now: number): number {
    return Math.min(M, largestFit(this.policy, account.emptyAt[this.key(kind)], now));
  }

  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    if (numbers.length > M) return { ok: false, retryAfterSeconds: null };
    const outcome = chargeBucket(this.policy, account.emptyAt[this.key(kind)], numbers.length, now);
    if (!outcome.ok) return { ok: false, retryAfterSeconds: outcome.retryAfterSeconds };
    account.emptyAt[this.key(kind)] = outcome.emptyAt;
    const found = kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - production.s2DeltaMs);
    return { ok: true, ...found, newFlag: null };
  }
}

type ChargeResult = ChargeDecision;

/**
 * The service itself: the two buckets, the rules, the global norm and the network guard, composed
 * as src/discovery.ts does (charge, admit a fresh client, look up, observe).
 */
class IcdService implements Service {
  readonly detection = true;
  readonly separateIncremental = true;
  norm: NormState = emptyNorm(CHURN_START);
  private readonly networks = new Map<string, { newClients: number; throttledUntil: number }>();
  readonly throttledNetworks = new Set<string>();

  constructor(
    private readonly directory: Directory,
    private readonly config: Config,
  ) {}

  fits(account: Account, kind: BucketKind, now: number): number {
    return largestAllowed(this.config, this.state(account), kind, now);
  }

  private state(account: Account): ClientState {
    return { emptyAt: account.emptyAt, flagged: account.flag !== undefined, vouched: false, signals: account.signals };
  }

  /** src/discovery.ts, discover(), after authentication. */
  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    const n = numbers.length;
    if (n > this.config.maxContacts) return { ok: false, retryAfterSeconds: null };
    if (n === 0) return { ok: true, added: [], removed: 0, newFlag: null };
    const charged = this.charge(account, kind, n, now);
    if (!charged.ok) return { ok: false, retryAfterSeconds: "retryAfterSeconds" in charged ? charged.retryAfterSeconds : null };
    if (charged.fresh) {
      const admitted = this.admitNewClient(account.network, now);
      if (!admitted.ok) {
        account.emptyAt[kind] = refundBucket(bucketPolicy(this.config, kind), account.emptyAt[kind], n, now);
        return { ok: false, retryAfterSeconds: admitted.retryAfterSeconds };
      }
    }
    const answer = kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - this.config.s2DeltaMs);
    const matches = answer.added.length + answer.removed;
    // src/observation.ts, observeSync(): the monitor first, then the client's object, then a new flag.
    const { norm, sample } = this.recordSync(kind, n, matches, charged.flagged, now);
    const { newFlag, samples } = this.observe(account, { kind, identifiers: n, matches, edge: charged.edge }, sketchOf(identifiers(numbers)), sample, norm.hitRatio, now);
    if (newFlag) this.norm = removeSamples(this.norm, samples, now); // Monitor.flag()
    this.noteRules(account, norm.hitRatio, now);
    return { ok: true, ...answer, newFlag };
  }

  /** ClientBuckets.charge(): the same decideCharge(), on the account's state in memory. */
  private charge(account: Account, kind: BucketKind, n: number, now: number): ChargeResult {
    this.sweep(account, now);
    const decision = decideCharge(this.config, this.state(account), kind, n, now);
    if (decision.ok) account.emptyAt[kind] = decision.emptyAt;
    else account.signals = recordRefusal(account.signals ?? emptySignals(now), now);
    return decision;
  }

  /** ClientBuckets.observe(): the same observeAnswer(), on the account's evidence in memory. */
  private observe(account: Account, answered: Answered, sketch: Uint8Array, sample: NormSample | null, normHitRatio: number | null, now: number) {
    const { newFlag, ...evidence } = observeAnswer(account, answered, sketch, sample, normHitRatio, this.config.detection, now);
    Object.assign(account, evidence);
    if (newFlag) account.flag = newFlag;
    return { newFlag, samples: evidence.samples };
  }

  /** ClientBuckets.sweep() as its alarm would run it: drained buckets go; signals after their retention, unless flagged. */
  private sweep(account: Account, now: number): void {
    if (keepUntil(account.emptyAt, account.signals) > now) return;
    account.emptyAt = { full: 0, incremental: 0 };
    if (!account.flag) Object.assign(account, { signals: undefined, sketch: undefined, samples: undefined });
  }

  /** Monitor.recordSync(): only unflagged clients' full syncs teach the norm. */
  private recordSync(kind: BucketKind, identifiers: number, matches: number, flagged: boolean, now: number): { norm: NormView; sample: NormSample | null } {
    let sample: NormSample | null = null;
    if (kind === "full" && !flagged) ({ state: this.norm, sample } = addSample(this.norm, identifiers, matches, now));
    return { norm: normOf(this.norm, now), sample };
  }

  /** NetworkGuard.admitNewClient() (per network; the per-ASN allowance of 2,000 a day never binds here). */
  private admitNewClient(network: string, now: number): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (!this.config.guard) return { ok: true };
    const guard = this.networks.get(network) ?? { newClients: 0, throttledUntil: 0 };
    this.networks.set(network, guard);
    if (guard.throttledUntil > now) return { ok: false, retryAfterSeconds: Math.ceil((guard.throttledUntil - now) / 1000) };
    const outcome = chargeBucket({ capacity: this.config.networkAccountsPerDay, drainMs: DAY }, guard.newClients, 1, now);
    if (outcome.ok) {
      guard.newClients = outcome.emptyAt;
      return { ok: true };
    }
    guard.throttledUntil = now + DAY;
    this.throttledNetworks.add(network);
    return { ok: false, retryAfterSeconds: DAY / 1000 };
  }

  /** Reporting only (not the service): when each rule would first fire, flagged or not. */
  private noteRules(account: Account, normHitRatio: number, now: number): void {
    if (!account.signals || !account.sketch) return;
    for (const r of evaluateRules(account.signals, estimateDistinct(account.sketch), normHitRatio, this.config.detection)) account.ruleFirstAt[r.rule] ??= now;
  }
}

// ---- Simulated time ----

class Clock {
  private heap: { at: number; seq: number; run: (now: number) => void }[] = [];
  private seq = 0;
  constructor(private readonly directory: Directory) {}

  at(at: number, run: (now: number) => void): void {
    if (at >= END) return;
    const h = this.heap;
    h.push({ at, seq: this.seq++, run });
    for (let i = h.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.before(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private before = (x: { at: number; seq: number }, y: { at: number; seq: number }) => x.at < y.at || (x.at === y.at && x.seq < y.seq);

  run(onDay: (day: number) => void): void {
    let nextDay = T0;
    const h = this.heap;
    while (h.length > 0) {
      const top = h[0]!;
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
          if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
          if (m === i) break;
          [h[m], h[i]] = [h[i]!, h[m]!];
          i = m;
        }
      }
      for (; nextDay <= top.at; nextDay += DAY) onDay(nextDay);
      this.directory.advance(top.at);
      top.run(top.at);
    }
    for (; nextDay <= END; nextDay += DAY) onDay(nextDay);
  }
}

// ---- Honest clients (client/src/client.js) ----

interface HonestPlan {
  cohort: "typical" | "large";
  book: Int32Array; // the whole book over the run: contacts added later come at the end
  share: number;
  addedAt: Float64Array; // when each contact enters the book (-Infinity: from the start)
  joinAt: number;
  reinstallAt: number | null;
  offline: [number, number] | null;
}

function honestPlans(registeredList: Int32Array, registered: Uint8Array): HonestPlan[] {
  const rand = stream("honest");
  const plans: HonestPlan[] = [];
  const pickRegistered = () => registeredList[below(rand, registeredList.length)]!;
  const pickUnregistered = () => {
    let x: number;
    do x = below(rand, SPACE);
    while (registered[x]);
    return x;
  };
  for (let i = 0; i < HONEST + LARGE_BOOKS; i++) {
    const cohort = i < HONEST ? "typical" : "large";
    // Typical: 100 to 1,000 contacts, 30 to 60% registered. Large: 2,000 to 25,000 (log-uniform), 10 to 50%.
    const size = cohort === "typical" ? Math.round(between(rand, 100, 1000)) : Math.round(Math.exp(between(rand, Math.log(2000), Math.log(25_000))));
    const share = cohort === "typical" ? between(rand, 0.3, 0.6) : between(rand, 0.1, 0.5);
    const joinAt = rand() < JOIN_DURING_RUN ? T0 + rand() * (END - T0) : T0 - rand() * WARMUP_DAYS * DAY;
    const numbers: number[] = [];
    const addedAt: number[] = [];
    const seen = new Set<number>();
    const add = (at: number) => {
      let x: number;
      do x = rand() < share ? pickRegistered() : pickUnregistered();
      while (seen.has(x));
      seen.add(x);
      numbers.push(x);
      addedAt.push(at);
    };
    for (let k = 0; k < size; k++) add(-Infinity);
    for (let day = Math.floor((joinAt - T0) / DAY) + 1; day < DAYS; day++) {
      if (rand() < NEW_CONTACTS_PER_DAY) for (let k = 1 + below(rand, 3); k > 0; k--) add(T0 + day * DAY + rand() * DAY);
    }
    const reinstallAt = rand() < REINSTALL_SHARE ? joinAt + between(rand, 2, 25) * DAY : null;
    const offlineFrom = joinAt + between(rand, 1, 20) * DAY;
    const offline: [number, number] | null = rand() < OFFLINE_SHARE ? [offlineFrom, offlineFrom + between(rand, 7, 25) * DAY] : null;
    plans.push({ cohort, book: Int32Array.from(numbers), share, addedAt: Float64Array.from(addedAt), joinAt, reinstallAt, offline });
  }
  return plans;
}

interface HonestResult {
  cohort: HonestPlan["cohort"];
  bookSize: number;
  share: number;
  syncs: number;
  requests: number;
  refusals: number;
  /** The sync ended in the client's error: refused even one identifier (a quarantine). */
  failedSyncs: number;
  flag: { at: number; rules: Rule[]; message: string } | null;
  account: Account;
}

/** One honest client, syncing once a day (at the hour it joined) when online, as client/src/client.js does. */
function startHonest(plan: HonestPlan, index: number, service: Service, clock: Clock): HonestResult {
  const account = newAccount(`honest-${index}`, `honest-network-${index}`);
  const checkedAt = new Float64Array(plan.book.length).fill(NaN);
  const result: HonestResult = { cohort: plan.cohort, bookSize: 0, share: plan.share, syncs: 0, requests: 0, refusals: 0, failedSyncs: 0, flag: null, account };
  const jitter = stream(`jitter-${index}`);
  let reinstalled = false;
  const freshFor = production.s2DeltaMs - CLIENT_MARGIN_MS;

  /** IcdClient.check(): batches of MAX_CONTACTS; after a 429, the part that fits once, then stop; halve on a 429 without Retry-After. */
  const check = (kind: BucketKind, list: number[], now: number): "done" | "wait" | "error" => {
    const drainMs = kind === "full" ? production.s2DeltaMs : production.s2PeriodMs;
    let size = M;
    let splitTried = false;
    for (let start = 0; start < list.length; ) {
      const batch = list.slice(start, start + size);
      const answer = service.discover(account, kind, batch.map((i) => plan.book[i]!), now);
      result.requests++;
      if (answer.ok) {
        for (const i of batch) checkedAt[i] = now;
        if (answer.newFlag) result.flag = { at: now, rules: answer.newFlag.reasons.map((r) => r.rule), message: answer.newFlag.reasons.map((r) => r.message).join("; ") };
        start += batch.length;
        continue;
      }
      result.refusals++;
      if (answer.retryAfterSeconds === null) {
        if (batch.length === 1) return "error";
        size = Math.ceil(batch.length / 2);
        continue;
      }
      const fits = batch.length - Math.ceil((answer.retryAfterSeconds * 1000 * M) / drainMs);
      if (!splitTried && fits >= 1) {
        splitTried = true;
        size = fits;
        continue;
      }
      return "wait";
    }
    return "done";
  };

  const sync = (now: number) => {
    const next = now + DAY + (jitter() - 0.5) * HOUR;
    if (plan.offline && now >= plan.offline[0] && now < plan.offline[1]) return clock.at(next, sync);
    if (plan.reinstallAt !== null && !reinstalled && now >= plan.reinstallAt) {
      reinstalled = true;
      checkedAt.fill(NaN); // a new install knows nothing; the service still knows the account
    }
    const incremental: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < plan.book.length && plan.addedAt[i]! <= now; i++) {
      const t = checkedAt[i]!;
      (t === t && now - t <= freshFor ? incremental : full).push(i);
      result.bookSize = i + 1;
    }
    result.syncs++;
    if (check("incremental", incremental, now) === "error" || check("full", full, now) === "error") result.failedSyncs++;
    clock.at(next, sync);
  };
  clock.at(plan.joinAt, sync);
  return result;
}

// ---- Enumerators ----

interface AccountReport {
  start: number;
  flaggedAt: number | null;
  rules: Rule[];
  checkedBeforeFlag: number;
  foundBeforeFlag: number;
  ruleFirstAt: Partial<Record<Rule, number>>;
}

class Enumerator {
  readonly found: Uint8Array;
  foundCount = 0;
  checked = 0;
  requests = 0;
  refusals = 0;
  readonly accounts: { account: Account; report: AccountReport; dead: boolean }[] = [];
  readonly foundByDay: number[] = [];

  constructor(
    readonly key: string,
    readonly label: string,
  ) {
    this.found = new Uint8Array(SPACE);
  }

  addAccount(start: number, network: string) {
    const entry = { account: newAccount(`${this.key}-${this.accounts.length}`, network), report: { start, flaggedAt: null, rules: [], checkedBeforeFlag: 0, foundBeforeFlag: 0, ruleFirstAt: {} }, dead: false };
    entry.report.ruleFirstAt = entry.account.ruleFirstAt;
    this.accounts.push(entry);
    return entry;
  }

  /** Sends one request; records what it learned. Refused: returns the refusal. */
  ask(service: Service, entry: Enumerator["accounts"][number], kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    const answer = service.discover(entry.account, kind, numbers, now);
    this.requests++;
    if (!answer.ok) {
      this.refusals++;
      return answer;
    }
    this.checked += numbers.length;
    let newly = 0;
    for (const x of answer.added) if (!this.found[x]) (this.found[x] = 1), newly++;
    this.foundCount += newly;
    const r = entry.report;
    if (r.flaggedAt === null) {
      r.checkedBeforeFlag += numbers.length;
      r.foundBeforeFlag += newly;
    }
    if (answer.newFlag) {
      r.flaggedAt = now;
      r.rules = answer.newFlag.reasons.map((x) => x.rule);
    }
    return answer;
  }
}

/** Numbers in the order an enumerator walks them: taken only once answered. */
class Walk {
  private pos = 0;
  constructor(private readonly order: (i: number) => number) {}
  peek(n: number): Int32Array {
    const out = new Int32Array(Math.max(0, Math.min(n, SPACE - this.pos)));
    for (let i = 0; i < out.length; i++) out[i] = this.order(this.pos + i);
    return out;
  }
  take(n: number): void {
    this.pos += n;
  }
  get done(): boolean {
    return this.pos >= SPACE;
  }
}

/**
 * Greedy: every hour, each live account asks for as many new numbers as its full budget takes (in
 * requests of at most MAX_CONTACTS), and, where incremental lookups have a budget of their own, as
 * many as that takes too. An account whose full syncs are refused without a Retry-After (quarantined)
 * is dropped from full syncs; a Sybil then moves on to its next account.
 */
function greedy(e: Enumerator, service: Service, clock: Clock, walk: Walk, incrementalWalk: Walk | null) {
  const tick = (entry: Enumerator["accounts"][number]) => (now: number) => {
    let requests = 0;
    while (!entry.dead && !walk.done && requests < NO_LIMIT_REQUESTS_PER_HOUR) {
      const n = Math.min(M, service.fits(entry.account, "full", now));
      if (n < 1) break;
      const numbers = walk.peek(n);
      const answer = e.ask(service, entry, "full", numbers, now);
      requests++;
      if (answer.ok) walk.take(numbers.length);
      else {
        if (answer.retryAfterSeconds === null) entry.dead = true;
        break;
      }
    }
    if (incrementalWalk && service.separateIncremental) {
      const n = Math.min(M, service.fits(entry.account, "incremental", now));
      if (n >= 1) {
        const numbers = incrementalWalk.peek(n);
        if (e.ask(service, entry, "incremental", numbers, now).ok) incrementalWalk.take(numbers.length);
      }
    }
    if (!entry.dead || incrementalWalk) clock.at(now + HOUR, tick(entry));
  };
  return tick;
}

function startEnumerators(service: Service, clock: Clock, registeredList: Int32Array): Enumerator[] {
  const random = new Enumerator("random", "1. random numbers");
  const sequential = new Enumerator("sequential", "2. sequential ranges");
  const sybil = new Enumerator("sybil", `3. Sybil (${SYBIL_ACCOUNTS} accounts, ${SYBIL_PER_DAY}/day, one network)`);
  const slow = new Enumerator("slow", `4. slow (${SLOW_PER_DAY.toLocaleString("en-US")}/day)`);
  const evasive = new Enumerator("evasive", "5. evasive (padded, off the edge)");

  // 1. Random numbers, full and incremental.
  const r = random.addAccount(T0, "random-net");
  clock.at(T0, greedy(random, service, clock, new Walk(permutation(stream("random-walk"))), new Walk(permutation(stream("random-incremental"))))(r));

  // 2. Sequential ranges from the start of the number space.
  const s = sequential.addAccount(T0, "sequential-net");
  clock.at(T0, greedy(sequential, service, clock, new Walk((i) => i), null)(s));

  // 3. Sybil: new accounts from one network, a few a day, all walking one shared random order.
  const sybilWalk = new Walk(permutation(stream("sybil-walk")));
  const sybilRand = stream("sybil");
  const sybilTick = greedy(sybil, service, clock, sybilWalk, null);
  for (let k = 0; k < SYBIL_ACCOUNTS; k++) {
    const at = T0 + (Math.floor(k / SYBIL_PER_DAY) + sybilRand()) * DAY;
    if (at >= END) break;
    clock.at(at, sybilTick(sybil.addAccount(at, "sybil-net")));
  }

  // 4. Slow: 1,500 random numbers in one full sync a day, never near the bucket's edge.
  const slowWalk = new Walk(permutation(stream("slow-walk")));
  const w = slow.addAccount(T0, "slow-net");
  const slowTick = (now: number) => {
    const numbers = slowWalk.peek(SLOW_PER_DAY);
    const answer = slow.ask(service, w, "full", numbers, now);
    if (answer.ok) slowWalk.take(numbers.length);
    else if (answer.retryAfterSeconds === null) return; // quarantined: nothing more to get
    clock.at(now + DAY, slowTick);
  };
  clock.at(T0, slowTick);

  // 5. Evasive: as much as the budget takes but never at the edge (leaves over 5% free), and its hit
  //    ratio padded up to 15% with numbers it already knows are registered. Its one weakness: every
  //    new number it checks is a new distinct identifier.
  const evasiveWalk = new Walk(permutation(stream("evasive-walk")));
  const evasiveRand = stream("evasive");
  const known: number[] = Array.from({ length: EVASIVE_SEED_KNOWN }, () => registeredList[below(evasiveRand, registeredList.length)]!);
  const v = evasive.addAccount(T0, "evasive-net");
  let newChecked = 0;
  let newFound = 0;
  const evasiveTick = (now: number) => {
    for (let requests = 0; requests < NO_LIMIT_REQUESTS_PER_HOUR && !evasiveWalk.done; requests++) {
      // Against a service without rules there is nothing to evade: no padding, no margin.
      const density = newChecked > 1000 ? newFound / newChecked : 0.1;
      const padShare = service.detection ? Math.max(0, (EVASIVE_TARGET_RATIO - density) / (1 - density)) : 0;
      let size = Math.min(M, service.fits(v.account, "full", now) - (service.detection ? EVASIVE_FREE : 0));
      if (padShare > 0) size = Math.min(size, Math.floor(known.length / padShare));
      if (size < EVASIVE_MIN_BATCH) break;
      const pad = Math.ceil(size * padShare);
      const fresh = evasiveWalk.peek(size - pad);
      const numbers = new Int32Array(size);
      numbers.set(fresh);
      // Pads: distinct known users, so each counts once as a match.
      for (let i = 0, j = known.length - 1; i < pad; i++, j--) {
        const k = below(evasiveRand, j + 1);
        [known[k], known[j]] = [known[j]!, known[k]!];
        numbers[fresh.length + i] = known[j]!;
      }
      const answer = evasive.ask(service, v, "full", numbers, now);
      if (!answer.ok) {
        if (answer.retryAfterSeconds === null) return; // quarantined
        break;
      }
      evasiveWalk.take(fresh.length);
      newChecked += fresh.length;
      const before = known.length;
      const freshSet = new Set(fresh);
      for (const x of answer.added) if (freshSet.has(x)) known.push(x);
      newFound += known.length - before;
    }
    clock.at(now + HOUR, evasiveTick);
  };
  clock.at(T0, evasiveTick);

  return [random, sequential, sybil, slow, evasive];
}

// ---- One run of a regime ----

interface RegimeResult {
  key: string;
  label: string;
  enumerators: ReturnType<typeof enumeratorSummary>[];
  honest: ReturnType<typeof honestSummary> | null;
  norm: { day: number; hitRatio: number; samples: number }[];
  throttledNetworks: string[];
  seconds: number;
}

const hours = (ms: number) => Math.round((ms / HOUR) * 10) / 10;

function enumeratorSummary(e: Enumerator) {
  const flagged = e.accounts.filter((a) => a.report.flaggedAt !== null);
  const first = flagged.reduce<(typeof flagged)[number] | null>((x, a) => (x === null || a.report.flaggedAt! < x.report.flaggedAt! ? a : x), null);
  const times = flagged.map((a) => a.report.flaggedAt! - a.report.start).sort((x, y) => x - y);
  const rules: Partial<Record<Rule, number>> = {};
  for (const a of flagged) for (const rule of a.report.rules) rules[rule] = (rules[rule] ?? 0) + 1;
  const wouldFire: Partial<Record<Rule, number | null>> = {};
  for (const rule of ["distinct", "hit-ratio", "edge"] as Rule[]) {
    const at = e.accounts.map((a) => (a.report.ruleFirstAt[rule] ?? Infinity) - a.report.start).reduce((x, y) => Math.min(x, y), Infinity);
    wouldFire[rule] = Number.isFinite(at) ? hours(at) : null;
  }
  return {
    key: e.key,
    label: e.label,
    accounts: e.accounts.length,
    accountsFlagged: flagged.length,
    requests: e.requests,
    refusals: e.refusals,
    checked: e.checked,
    found: e.foundCount,
    foundShare: e.foundCount / directoryAtEnd,
    /** Of the account flagged first (for a Sybil, sums over every account up to its own flag). */
    firstFlagHours: first ? hours(first.report.flaggedAt! - first.report.start) : null,
    medianFlagHours: times.length > 0 ? hours(times[Math.floor(times.length / 2)]!) : null,
    rules,
    checkedBeforeFlag: e.accounts.reduce((sum, a) => sum + a.report.checkedBeforeFlag, 0),
    foundBeforeFlag: e.accounts.reduce((sum, a) => sum + a.report.foundBeforeFlag, 0),
    /** Hours from an account's start until each rule would first have fired on its signals (the earliest account). */
    wouldFireHours: wouldFire,
    foundByDay: e.foundByDay,
  };
}

function honestSummary(results: HonestResult[]) {
  const cohort = (name: HonestPlan["cohort"]) => {
    const rs = results.filter((r) => r.cohort === name);
    const flagged = rs.filter((r) => r.flag !== null);
    const byRule: Partial<Record<Rule, number>> = {};
    for (const r of flagged) for (const rule of r.flag!.rules) byRule[rule] = (byRule[rule] ?? 0) + 1;
    const wouldFire: Partial<Record<Rule, number>> = {};
    for (const r of rs) for (const rule of Object.keys(r.account.ruleFirstAt) as Rule[]) wouldFire[rule] = (wouldFire[rule] ?? 0) + 1;
    const hitRatio = ({ signals }: Account) => (signals && signals.identifiers.full > 0 ? signals.matches.full / signals.identifiers.full : null);
    const ratios = rs.map((r) => hitRatio(r.account)).filter((x): x is number => x !== null).sort((a, b) => a - b);
    return {
      clients: rs.length,
      syncs: rs.reduce((s, r) => s + r.syncs, 0),
      requests: rs.reduce((s, r) => s + r.requests, 0),
      refusals: rs.reduce((s, r) => s + r.refusals, 0),
      failedSyncs: rs.reduce((s, r) => s + r.failedSyncs, 0),
      flagged: flagged.length,
      byRule,
      wouldFire,
      lowestFullHitRatio: ratios[0] ?? null,
      examples: flagged
        .sort((a, b) => a.flag!.at - b.flag!.at)
        .slice(0, 10)
        .map((r) => ({ bookSize: r.bookSize, registeredShare: Math.round(r.share * 1000) / 1000, dayFlagged: Math.round(((r.flag!.at - T0) / DAY) * 10) / 10, rules: r.flag!.rules, message: r.flag!.message })),
    };
  };
  return { typical: cohort("typical"), large: cohort("large") };
}

interface Shared {
  base: { registered: Uint8Array; list: Int32Array };
  churn: ChurnEvent[];
  plans: HonestPlan[];
}

function runRegime(key: string, label: string, shared: Shared, make: (d: Directory) => Service, withHonest: boolean): RegimeResult {
  const t = performance.now();
  const directory = new Directory(shared.base.registered, shared.churn);
  const service = make(directory);
  const clock = new Clock(directory);
  const honest = withHonest ? shared.plans.map((p, i) => startHonest(p, i, service, clock)) : [];
  const enumerators = startEnumerators(service, clock, shared.base.list);
  const norm: RegimeResult["norm"] = [];
  clock.run((day) => {
    if (day <= T0) return;
    for (const e of enumerators) e.foundByDay.push(e.foundCount);
    if (service instanceof IcdService) {
      const view = normOf(service.norm, day);
      norm.push({ day: (day - T0) / DAY, hitRatio: Math.round(view.hitRatio * 1e4) / 1e4, samples: Math.round(view.samples * 10) / 10 });
    }
  });
  const seconds = (performance.now() - t) / 1000;
  process.stderr.write(`  ${label}: ${seconds.toFixed(1)} s\n`);
  return {
    key,
    label,
    enumerators: enumerators.map(enumeratorSummary),
    honest: withHonest ? honestSummary(honest) : null,
    norm,
    throttledNetworks: service instanceof IcdService ? [...service.throttledNetworks] : [],
    seconds,
  };
}

// ---- Output ----

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)}%`;
const duration = (h: number | null) => (h === null ? "never" : h < 48 ? `${h.toFixed(h < 10 ? 1 : 0)} h` : `${(h / 24).toFixed(1)} d`);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? ` ${"-".repeat(w)} ` : ` ${"-".repeat(w - 1)}: `)).join("|")}|`, ...rows.map(line)].join("\n");
}

function report(results: RegimeResult[]): string {
  const out: string[] = [];
  const byKey = Object.fromEntries(results.map((r) => [r.key, r]));
  out.push(`Registered users found in ${DAYS} days (share of the ${fmt(directoryAtEnd)} registered at the end), per enumerator and regime:\n`);
  out.push(
    table(
      ["enumerator", ...results.map((r) => r.label)],
      results[0]!.enumerators.map((e, i) => [e.label, ...results.map((r) => `${fmt(r.enumerators[i]!.found)} (${pct(r.enumerators[i]!.foundShare)})`)]),
    ),
  );
  for (const key of ["production", "budgets"]) {
    const r = byKey[key];
    if (!r) continue;
    out.push(`\n${r.label}: when and why each enumerator was flagged${key === "budgets" ? " (a flag changes nothing here)" : ""}:\n`);
    out.push(
      table(
        ["enumerator", "accounts flagged", "first flag after", "rule", "checked before flag", "found before flag", "checked in total", "found in total"],
        r.enumerators.map((e) => [
          e.label,
          `${e.accountsFlagged} of ${e.accounts}`,
          duration(e.firstFlagHours),
          Object.keys(e.rules).join(", ") || "-",
          fmt(e.checkedBeforeFlag),
          fmt(e.foundBeforeFlag),
          fmt(e.checked),
          fmt(e.found),
        ]),
      ),
    );
  }
  const b = byKey.budgets;
  if (b) {
    out.push("\nHours from an account's start until each rule would first fire on its own (budgets alone, earliest account):\n");
    out.push(table(["enumerator", "distinct", "hit-ratio", "edge"], b.enumerators.map((e) => [e.label, duration(e.wouldFireHours.distinct ?? null), duration(e.wouldFireHours["hit-ratio"] ?? null), duration(e.wouldFireHours.edge ?? null)])));
  }
  out.push("\nHonest clients:\n");
  const rows: string[][] = [];
  for (const r of results) {
    if (!r.honest) continue;
    for (const [name, c] of Object.entries(r.honest)) {
      rows.push([
        `${r.label}, ${name === "typical" ? "typical books (100-1,000)" : "large books (2,000-25,000)"}`,
        fmt(c.clients),
        fmt(c.syncs),
        fmt(c.refusals),
        `${c.flagged}${c.flagged ? ` (${Object.entries(c.byRule).map(([k, n]) => `${k} ${n}`).join(", ")})` : ""}`,
        fmt(c.failedSyncs),
      ]);
    }
  }
  out.push(table(["regime, cohort", "clients", "syncs", "429s", "flagged", "failed syncs"], rows));
  const p = byKey.production;
  if (p?.honest) {
    for (const ex of [...p.honest.typical.examples, ...p.honest.large.examples].slice(0, 5)) {
      out.push(`  flagged honest client: ${fmt(ex.bookSize)} contacts, ${pct(ex.registeredShare)} registered, day ${ex.dayFlagged}: ${ex.message}`);
    }
    const norm = p.norm;
    out.push(`\nLearned norm (production): ${pct(norm[0]?.hitRatio ?? 0)} on day 1, ${pct(norm.at(-1)?.hitRatio ?? 0)} on day ${norm.at(-1)?.day}; hit-ratio threshold ${pct((norm.at(-1)?.hitRatio ?? 0) * production.detection.hitRatioFactor)}.`);
  }
  return out.join("\n");
}

const COLORS = ["#9e9e9e", "#f4a259", "#5b8e7d", "#bc4b51"];

function chart(results: RegimeResult[]): string {
  const W = 960;
  const H = 460;
  const left = 70;
  const right = 20;
  const top = 60;
  const bottom = 110;
  const plotH = H - top - bottom;
  const plotW = W - left - right;
  const max = 2 * directoryAtEnd; // the axis ends a little above the whole directory
  const y = (v: number) => top + plotH - (Math.log10(Math.max(1, v)) / Math.log10(max)) * plotH;
  const groups = results[0]!.enumerators.length;
  const groupW = plotW / groups;
  const barW = (groupW * 0.8) / results.length;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const short = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e4 ? `${Math.round(v / 1e3)}k` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${v}`);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">Registered users found in ${DAYS} days, per enumerator and regime (log scale)</text>`);
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(command)}: ${fmt(SPACE)} numbers, ${fmt(HONEST)} honest clients</text>`);
  for (let e = 0; 10 ** e <= max; e++) {
    const yy = y(10 ** e);
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" fill="#555">${["1", "10", "100", "1k", "10k", "100k", "1M", "10M", "100M"][e]}</text>`);
  }
  const whole = y(directoryAtEnd);
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${whole}" y2="${whole}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<line x1="${left + plotW / 2}" x2="${left + plotW / 2 + 12}" y1="${H - 20}" y2="${H - 20}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${left + plotW / 2 + 18}" y="${H - 16}">whole directory (${fmt(directoryAtEnd)} registered at the end)</text>`);
  results[0]!.enumerators.forEach((e, g) => {
    const x0 = left + g * groupW + groupW * 0.1;
    results.forEach((r, i) => {
      const v = r.enumerators[g]!.found;
      const x = x0 + i * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${e.label}, ${r.label}: ${fmt(v)}`)}</title></rect>`);
      parts.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(y(v) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${short(v)}</text>`);
    });
    const words = e.label.split(" (");
    parts.push(`<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${esc(words[0]!)}</text>`);
    if (words[1]) parts.push(`<text x="${(left + g * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 33}" text-anchor="middle" fill="#555" font-size="10">(${esc(words[1])}</text>`);
  });
  results.forEach((r, i) => {
    const x = left + (i % 2) * (plotW / 2);
    const yy = H - 52 + Math.floor(i / 2) * 18;
    parts.push(`<rect x="${x}" y="${yy - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 18}" y="${yy}">${esc(r.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

// ---- Main ----

process.stderr.write(`simulating ${DAYS} days, seed ${SEED}: directory of ${fmt(USERS)} in ${fmt(SPACE)} numbers, ${fmt(HONEST)} + ${fmt(LARGE_BOOKS)} honest clients\n`);
const base = baseDirectory();
const shared: Shared = { base, churn: churnEvents(base.registered), plans: honestPlans(base.list, base.registered) };
/** Registered users on the last day: the share of the directory an enumerator found is of these. */
const directoryAtEnd = USERS + shared.churn.reduce((n, e) => n + (e.register ? 1 : -1), 0);
const noLimitPolicy: BucketPolicy = { capacity: NO_LIMIT_REQUESTS_PER_HOUR * M, drainMs: HOUR };
const results = [
  runRegime("none", "(a) no limits", shared, (d) => new PlainService(d, noLimitPolicy, true), false),
  runRegime("single", "(b) one bucket, 20,000/day", shared, (d) => new PlainService(d, SINGLE_BUCKET, false), false),
  runRegime("budgets", "S1/S2 budgets alone", shared, (d) => new IcdService(d, budgetsOnly), true),
  runRegime("production", "S1/S2 + detection, quarantine", shared, (d) => new IcdService(d, production), true),
];
const text = report(results);
console.log(text);

const outDir = opt.out!;
mkdirSync(outDir, { recursive: true });
const figures = {
  command,
  seed: SEED,
  days: DAYS,
  runtimeSeconds: Math.round((performance.now() - started) / 100) / 10,
  directory: { space: SPACE, users: USERS, usersAtEnd: directoryAtEnd, registrationsPerDay: REGISTRATIONS_PER_DAY, removalsPerDay: REMOVALS_PER_DAY },
  overrides,
  config: { production: { ...production, adminToken: undefined }, budgetsOnly: { quarantineBudget: budgetsOnly.quarantineBudget } },
  assumptions: {
    warmupDays: WARMUP_DAYS,
    honest: { typical: HONEST, large: LARGE_BOOKS, joinDuringRun: JOIN_DURING_RUN, newContactsPerDay: NEW_CONTACTS_PER_DAY, reinstallShare: REINSTALL_SHARE, offlineShare: OFFLINE_SHARE },
    noLimits: `${NO_LIMIT_REQUESTS_PER_HOUR} requests of ${M} per hour per account`,
    singleBucket: SINGLE_BUCKET,
    sybil: { accounts: SYBIL_ACCOUNTS, perDay: SYBIL_PER_DAY, network: "one" },
    slowPerDay: SLOW_PER_DAY,
    evasive: { targetHitRatio: EVASIVE_TARGET_RATIO, seedKnown: EVASIVE_SEED_KNOWN, leavesFree: EVASIVE_FREE },
  },
  regimes: results,
};
writeFileSync(path.join(outDir, "simulation.json"), `${JSON.stringify(figures, null, 1)}\n`);
writeFileSync(path.join(outDir, "simulation.svg"), `${chart(results)}\n`);
process.stderr.write(`wrote ${path.join(outDir, "simulation.json")} and ${path.join(outDir, "simulation.svg")} in ${figures.runtimeSeconds} s\n`);
