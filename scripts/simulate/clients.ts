// The clients of a scenario: honest ones (client/src/client.ts), five enumerators, and crowds of
// fresh accounts spread over many networks.

import type { BucketKind } from "../../src/core/bucket";
import type { Config } from "../../src/core/config";
import type { Rule } from "../../src/core/flag-rules";
import { DAY_MS, HOUR_MS } from "../../src/core/time";
import {
  CLIENT_MARGIN_MS,
  CROWD_START_WITHIN,
  EVASIVE_FREE,
  EVASIVE_MIN_BATCH,
  EVASIVE_SEED_KNOWN,
  EVASIVE_TARGET_RATIO,
  JOIN_DURING_RUN,
  NEW_CONTACTS_PER_DAY,
  NO_LIMIT_REQUESTS_PER_HOUR,
  OFFLINE_SHARE,
  REINSTALL_SHARE,
  SLOW_PER_DAY,
  T0,
  WARMUP_DAYS,
} from "./assumptions";
import { type Rand, below, between } from "./random";
import { type Account, type Answer, type Service, newAccount } from "./services";
import type { Clock } from "./world";

/** What the clients read of their scenario (scenario.ts's Scenario is one), so that this module need not import it. */
export interface ScenarioView {
  readonly days: number;
  readonly end: number;
  readonly space: number;
  readonly honest: number;
  readonly largeBooks: number;
  readonly sybilAccounts: number;
  readonly sybilPerDay: number;
  readonly maxContacts: number;
  /** The production vars, parsed. */
  readonly production: Config;
  stream(name: string): Rand;
  permutation(name: string): (i: number) => number;
}

// ---- Honest clients (client/src/client.ts) ----

export interface HonestPlan {
  cohort: "typical" | "large";
  book: Int32Array; // the whole book over the run: contacts added later come at the end
  share: number;
  addedAt: Float64Array; // when each contact enters the book (-Infinity: from the start)
  joinAt: number;
  reinstallAt: number | null;
  offline: [number, number] | null;
}

export function honestPlans(scenario: ScenarioView, registeredList: Int32Array, registered: Uint8Array): HonestPlan[] {
  const { space, days, end } = scenario;
  const rand = scenario.stream("honest");
  const plans: HonestPlan[] = [];
  const pickRegistered = () => registeredList[below(rand, registeredList.length)]!;
  const pickUnregistered = () => {
    let x: number;
    do x = below(rand, space);
    while (registered[x]);
    return x;
  };
  for (let i = 0; i < scenario.honest + scenario.largeBooks; i++) {
    const cohort = i < scenario.honest ? "typical" : "large";
    // Typical: 100 to 1,000 contacts, 30 to 60% registered. Large: 2,000 to 25,000 (log-uniform), 10 to 50%.
    const size = cohort === "typical" ? Math.round(between(rand, 100, 1000)) : Math.round(Math.exp(between(rand, Math.log(2000), Math.log(25_000))));
    const share = cohort === "typical" ? between(rand, 0.3, 0.6) : between(rand, 0.1, 0.5);
    const joinAt = rand() < JOIN_DURING_RUN ? T0 + rand() * (end - T0) : T0 - rand() * WARMUP_DAYS * DAY_MS;
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
    for (let day = Math.floor((joinAt - T0) / DAY_MS) + 1; day < days; day++) {
      if (rand() < NEW_CONTACTS_PER_DAY) for (let k = 1 + below(rand, 3); k > 0; k--) add(T0 + day * DAY_MS + rand() * DAY_MS);
    }
    const reinstallAt = rand() < REINSTALL_SHARE ? joinAt + between(rand, 2, 25) * DAY_MS : null;
    const offlineFrom = joinAt + between(rand, 1, 20) * DAY_MS;
    const offline: [number, number] | null = rand() < OFFLINE_SHARE ? [offlineFrom, offlineFrom + between(rand, 7, 25) * DAY_MS] : null;
    plans.push({ cohort, book: Int32Array.from(numbers), share, addedAt: Float64Array.from(addedAt), joinAt, reinstallAt, offline });
  }
  return plans;
}

export interface HonestResult {
  cohort: HonestPlan["cohort"];
  /** Established: first sync before day 0; new: joined during the run. */
  joined: "established" | "new";
  bookSize: number;
  share: number;
  syncs: number;
  requests: number;
  refusals: number;
  /** The sync ended in the client's error: refused even one identifier (a quarantine). */
  failedSyncs: number;
  flag: { at: number; rules: Rule[]; message: string } | null;
  account: Account;
  /** Syncs after the first that started while an egress episode was in force; of them, those delayed (a 429 with Retry-After) and refused (a 429 without). */
  episode: { syncs: number; delayed: number; refused: number };
  /** The first sync: when it started, whether an episode was in force then, and when every contact of it had been answered. */
  first: { at: number; inEpisode: boolean; doneAt: number | null } | null;
}

/** One honest client, syncing once a day (at the hour it joined) when online, as client/src/client.ts does. */
export function startHonest(scenario: ScenarioView, plan: HonestPlan, index: number, service: Service, clock: Clock): HonestResult {
  const { production, maxContacts: M } = scenario;
  const account = newAccount(`honest-${index}`, `honest-network-${index}`);
  const checkedAt = new Float64Array(plan.book.length).fill(NaN);
  const result: HonestResult = {
    cohort: plan.cohort,
    joined: plan.joinAt < T0 ? "established" : "new",
    bookSize: 0,
    share: plan.share,
    syncs: 0,
    requests: 0,
    refusals: 0,
    failedSyncs: 0,
    flag: null,
    account,
    episode: { syncs: 0, delayed: 0, refused: 0 },
    first: null,
  };
  /** What this sync's 429s were: with a Retry-After (delayed), without (refused). */
  let delayed = false;
  let refused = false;
  /** Contacts in the book at the first sync: it is complete once all of them were answered. */
  let firstSize = 0;
  const jitter = scenario.stream(`jitter-${index}`);
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
      if (answer.retryAfterSeconds === null) refused = true;
      else delayed = true;
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
    const next = now + DAY_MS + (jitter() - 0.5) * HOUR_MS;
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
    const inEpisode = service.episodeAt(now);
    // A first sync is the client's first sync, reported apart (first); the episode counts are of the later ones.
    const later = result.first !== null && result.first.doneAt !== null;
    if (!result.first) {
      result.first = { at: now, inEpisode, doneAt: null };
      firstSize = result.bookSize;
    }
    delayed = refused = false;
    if (check("incremental", incremental, now) === "error" || check("full", full, now) === "error") result.failedSyncs++;
    if (inEpisode && later) {
      result.episode.syncs++;
      if (delayed) result.episode.delayed++;
      if (refused) result.episode.refused++;
    }
    if (result.first.doneAt === null && checkedAt.subarray(0, firstSize).every((t) => t === t)) result.first.doneAt = now;
    clock.at(next, sync);
  };
  clock.at(plan.joinAt, sync);
  return result;
}

// ---- Enumerators ----

export interface AccountReport {
  start: number;
  flaggedAt: number | null;
  rules: Rule[];
  checkedBeforeFlag: number;
  foundBeforeFlag: number;
  ruleFirstAt: Partial<Record<Rule, number>>;
}

export class Enumerator {
  readonly found: Uint8Array;
  foundCount = 0;
  checked = 0;
  requests = 0;
  refusals = 0;
  readonly accounts: { account: Account; report: AccountReport; dead: boolean }[] = [];
  readonly foundByDay: number[] = [];
  /** When its first request was sent, and what it found in each hour from then on. */
  firstAt: number | null = null;
  readonly foundByHour: number[] = [];
  /** When the walk of the number space it shares (a Sybil's, a crowd's) was done. */
  walkDoneAt: number | null = null;

  constructor(
    readonly key: string,
    readonly label: string,
    space: number,
  ) {
    this.found = new Uint8Array(space);
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
    this.firstAt ??= now;
    if (!answer.ok) {
      this.refusals++;
      return answer;
    }
    this.checked += numbers.length;
    let newly = 0;
    for (const x of answer.added) if (!this.found[x]) (this.found[x] = 1), newly++;
    this.foundCount += newly;
    const hour = Math.floor((now - this.firstAt) / HOUR_MS);
    while (this.foundByHour.length <= hour) this.foundByHour.push(0);
    this.foundByHour[hour]! += newly;
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
  constructor(
    private readonly order: (i: number) => number,
    private readonly space: number,
  ) {}
  peek(n: number): Int32Array {
    const out = new Int32Array(Math.max(0, Math.min(n, this.space - this.pos)));
    for (let i = 0; i < out.length; i++) out[i] = this.order(this.pos + i);
    return out;
  }
  take(n: number): void {
    this.pos += n;
  }
  get done(): boolean {
    return this.pos >= this.space;
  }
}

/**
 * Greedy: every hour, each live account asks for as many new numbers as its full budget takes (in
 * requests of at most MAX_CONTACTS), and, where incremental lookups have a budget of their own, as
 * many as that takes too. An account whose full syncs are refused for good (quarantined) is dropped
 * from full syncs, and stops once it has nothing else to do: so does every account once the walk is
 * done. (A flagged account's budget reads 0, so it would ask nothing anyway; what it saves is the
 * clock's time, which a crowd of 10,000 accounts ticking for 30 days would cost.)
 */
function greedy(e: Enumerator, service: Service, clock: Clock, M: number, walk: Walk, incrementalWalk: Walk | null) {
  const tick = (entry: Enumerator["accounts"][number]) => (now: number) => {
    let requests = 0;
    while (!entry.dead && !walk.done && requests < NO_LIMIT_REQUESTS_PER_HOUR) {
      const n = Math.min(M, service.fits(entry.account, "full", now));
      if (n < 1) {
        if (service.closed(entry.account)) entry.dead = true;
        break;
      }
      const numbers = walk.peek(n);
      const answer = e.ask(service, entry, "full", numbers, now);
      requests++;
      if (answer.ok) {
        walk.take(numbers.length);
        if (walk.done) e.walkDoneAt ??= now;
      } else {
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
    if ((!entry.dead && !walk.done) || incrementalWalk) clock.at(now + HOUR_MS, tick(entry));
  };
  return tick;
}

export function startEnumerators(scenario: ScenarioView, service: Service, clock: Clock, registeredList: Int32Array): Enumerator[] {
  const { space, end, sybilAccounts, sybilPerDay, maxContacts: M } = scenario;
  const walkOf = (name: string) => new Walk(scenario.permutation(name), space);
  const random = new Enumerator("random", "1. random numbers", space);
  const sequential = new Enumerator("sequential", "2. sequential ranges", space);
  const sybil = new Enumerator("sybil", `3. Sybil (${sybilAccounts} accounts, ${sybilPerDay}/day, one network)`, space);
  const slow = new Enumerator("slow", `4. slow (${SLOW_PER_DAY.toLocaleString("en-US")}/day)`, space);
  const evasive = new Enumerator("evasive", "5. evasive (padded, off the edge)", space);

  // 1. Random numbers, full and incremental.
  const r = random.addAccount(T0, "random-net");
  clock.at(T0, greedy(random, service, clock, M, walkOf("random-walk"), walkOf("random-incremental"))(r));

  // 2. Sequential ranges from the start of the number space.
  const s = sequential.addAccount(T0, "sequential-net");
  clock.at(T0, greedy(sequential, service, clock, M, new Walk((i) => i, space), null)(s));

  // 3. Sybil: new accounts from one network, a few a day, all walking one shared random order.
  const sybilWalk = walkOf("sybil-walk");
  const sybilRand = scenario.stream("sybil");
  const sybilTick = greedy(sybil, service, clock, M, sybilWalk, null);
  for (let k = 0; k < sybilAccounts; k++) {
    const at = T0 + (Math.floor(k / sybilPerDay) + sybilRand()) * DAY_MS;
    if (at >= end) break;
    clock.at(at, sybilTick(sybil.addAccount(at, "sybil-net")));
  }

  // 4. Slow: 1,500 random numbers in one full sync a day, never near the bucket's edge.
  const slowWalk = walkOf("slow-walk");
  const w = slow.addAccount(T0, "slow-net");
  const slowTick = (now: number) => {
    // As many of its 1,500 as the service takes (probation may hold it to fewer), as a client would.
    const numbers = slowWalk.peek(Math.min(SLOW_PER_DAY, service.fits(w.account, "full", now)));
    if (numbers.length === 0) return clock.at(now + DAY_MS, slowTick); // nothing fits today
    const answer = slow.ask(service, w, "full", numbers, now);
    if (answer.ok) slowWalk.take(numbers.length);
    else if (answer.retryAfterSeconds === null) return; // quarantined: nothing more to get
    clock.at(now + DAY_MS, slowTick);
  };
  clock.at(T0, slowTick);

  // 5. Evasive: as much as the budget takes but never at the edge (leaves over 5% free), and its hit
  //    ratio padded up to 15% with numbers it already knows are registered. Its one weakness: every
  //    new number it checks is a new distinct identifier.
  const evasiveWalk = walkOf("evasive-walk");
  const evasiveRand = scenario.stream("evasive");
  const known: number[] = Array.from({ length: EVASIVE_SEED_KNOWN }, () => registeredList[below(evasiveRand, registeredList.length)]!);
  const v = evasive.addAccount(T0, "evasive-net");
  let newChecked = 0;
  let newFound = 0;
  const evasiveTick = (now: number) => {
    for (let requests = 0; requests < NO_LIMIT_REQUESTS_PER_HOUR && !evasiveWalk.done; requests++) {
      // Against a service without rules there is nothing to evade: no padding, no margin.
      const density = newChecked > 1000 ? newFound / newChecked : 0.1;
      const padShare = service.detection ? Math.max(0, (EVASIVE_TARGET_RATIO - density) / (1 - density)) : 0;
      // Off the edge: it leaves EVASIVE_FREE of the bucket free. Where probation holds it to less than
      // half the bucket, what it may send is far from the edge already, and it sends all of it.
      const allowed = service.fits(v.account, "full", now);
      let size = Math.min(M, service.detection && allowed > M / 2 ? allowed - EVASIVE_FREE : allowed);
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
    clock.at(now + HOUR_MS, evasiveTick);
  };
  clock.at(T0, evasiveTick);

  return [random, sequential, sybil, slow, evasive];
}

/**
 * A crowd: `size` fresh accounts, each on a network of its own (so that neither the network rule nor
 * a network's egress allowance sees more than one of them), all starting in the first
 * CROWD_START_WITHIN of day 0 (uniformly at random) and walking one shared random order of the
 * number space greedily, as the Sybil does.
 */
export function startCrowd(scenario: ScenarioView, service: Service, clock: Clock, size: number): Enumerator {
  const { space, end, maxContacts: M } = scenario;
  const crowd = new Enumerator(`crowd-${size}`, `crowd of ${size.toLocaleString("en-US")} (one network each)`, space);
  const tick = greedy(crowd, service, clock, M, new Walk(scenario.permutation("crowd-walk"), space), null);
  const rand = scenario.stream(`crowd-${size}`);
  for (let k = 0; k < size; k++) {
    const at = T0 + rand() * CROWD_START_WITHIN;
    if (at < end) clock.at(at, tick(crowd.addAccount(at, `crowd-${size}-net-${k}`)));
  }
  return crowd;
}
