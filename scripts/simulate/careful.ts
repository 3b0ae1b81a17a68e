// The attacker's careful strategies (issue 23): sleepers, padded crowds and CRM-book mimics, alone
// or as crowds on many networks; and a Signal-CDSI-like limiter to run them against. Each account
// pads its requests with registered numbers it asked about before (its own book's, its own finds),
// so that its hit ratio stays at the honest norm and the padding is never a new identifier to it.

import type { BucketKind } from "../../src/core/bucket";
import { HOUR_MS } from "../../src/core/time";
import { EVASIVE_FREE, NO_LIMIT_REQUESTS_PER_HOUR, T0 } from "./assumptions";
import { Enumerator, type ScenarioView } from "./clients";
import { below } from "./random";
import type { Account, Answer, Service } from "./services";
import type { Clock, Directory } from "./world";

export type CarefulKind = "sleeper" | "padded" | "crm";

/** The hit ratio the careful accounts pad up to: an honest book's (40% registered). */
export const CAREFUL_TARGET_RATIO = 0.4;
/** A sleeper's book: 1,000 numbers, 40% registered. A CRM mimic's: 25,000, 20% registered. */
export const SLEEPER_BOOK = { size: 1_000, registered: 0.4 };
export const CRM_BOOK = { size: 25_000, registered: 0.2 };
/** Share of the directory the crowd already found before these accounts start (a past crowd's yield): 100,000 of the default 1,000,000. */
export const CROWD_KNOWN_SHARE = 0.1;
/** A sleeper waits this long after its book before it enumerates: past DETECT_YOUNG_HOURS (24 h), judged. */
export const SLEEP_HOURS = 25;

/** Signal's CDSI limiter with its committed defaults: a token bucket of new numbers per account. */
export const SIGNAL_LIKE = { capacity: 50_000, perHour: 6 };

/**
 * A Signal-CDSI-like limiter: each account has a token bucket of 50,000 numbers it never asked about
 * before, refilled at 6 an hour; re-asking is free; no other limit (no request cap but MAX_CONTACTS,
 * no rules). The set of numbers asked is kept per account, as Signal keeps it (hashed) in its enclave.
 */
export class SignalLikeService implements Service {
  readonly detection = false;
  readonly separateIncremental = false;
  readonly reaskFree = true;
  private readonly state = new Map<Account, { asked: Set<number>; tokens: number; at: number }>();
  constructor(
    private readonly directory: Directory,
    private readonly maxContacts: number,
    private readonly s2DeltaMs: number,
  ) {}

  private of(account: Account, now: number) {
    let s = this.state.get(account);
    if (!s) this.state.set(account, (s = { asked: new Set(), tokens: SIGNAL_LIKE.capacity, at: now }));
    s.tokens = Math.min(SIGNAL_LIKE.capacity, s.tokens + ((now - s.at) / HOUR_MS) * SIGNAL_LIKE.perHour);
    s.at = now;
    return s;
  }

  /** New numbers the account may ask about now (re-asked ones come on top, free). */
  fits(account: Account, _kind: BucketKind, now: number): number {
    return Math.min(this.maxContacts, Math.floor(this.of(account, now).tokens));
  }

  closed = (): boolean => false;
  episodeAt = (): boolean => false;

  discover(account: Account, kind: BucketKind, numbers: ArrayLike<number>, now: number): Answer {
    if (numbers.length > this.maxContacts) return { ok: false, retryAfterSeconds: null };
    const s = this.of(account, now);
    let fresh = 0;
    const seen = new Set<number>();
    for (let i = 0; i < numbers.length; i++) {
      const x = numbers[i]!;
      if (!s.asked.has(x) && !seen.has(x)) (seen.add(x), fresh++);
    }
    if (fresh > s.tokens) return { ok: false, retryAfterSeconds: fresh > SIGNAL_LIKE.capacity ? null : Math.ceil(((fresh - s.tokens) / SIGNAL_LIKE.perHour) * 3600) };
    s.tokens -= fresh;
    for (const x of seen) s.asked.add(x);
    const found = kind === "full" ? this.directory.full(numbers) : this.directory.incremental(numbers, now - this.s2DeltaMs);
    return { ok: true, ...found, newFlag: null };
  }
}

/** Numbers of one shared random walk, each handed to one account only (a crowd splits the work). */
class SharedWalk {
  private pos = 0;
  constructor(
    private readonly order: (i: number) => number,
    private readonly space: number,
  ) {}
  next(n: number): Int32Array {
    const out = new Int32Array(Math.max(0, Math.min(n, this.space - this.pos)));
    for (let i = 0; i < out.length; i++) out[i] = this.order(this.pos + i);
    this.pos += out.length;
    return out;
  }
  get done(): boolean {
    return this.pos >= this.space;
  }
}

export const carefulLabel = (kind: CarefulKind, accounts: number) =>
  `${{ sleeper: "sleeper", padded: "padded", crm: "CRM-book mimic" }[kind]}${accounts === 1 ? " (one account)" : ` crowd of ${accounts}`}`;

/**
 * `accounts` careful accounts of one kind, each on a network of its own, starting within the first
 * hour of day 0 and sharing one random walk of the number space:
 * - sleeper: syncs a book of 1,000 (40% registered, from the crowd's finds), waits SLEEP_HOURS, then
 *   enumerates, padded;
 * - padded: enumerates padded from its first request (its first one padded with the crowd's finds);
 * - crm: syncs a book of 25,000 (20% of them the crowd's finds, the rest from the walk), then enumerates, padded.
 * Enumerating: every hour, as many requests as the service takes (up to NO_LIMIT_REQUESTS_PER_HOUR),
 * each under the largest the budget allows, off the edge, with the share of padding that brings its
 * hit ratio to CAREFUL_TARGET_RATIO. A refusal ends its hour; one without Retry-After halves its
 * request (what the novelty limit's refusal asks for), and stops it for good once its full syncs are
 * closed (quarantined). So it never meets 30 refusals in a day.
 */
export function startCareful(scenario: ScenarioView, service: Service & { reaskFree?: boolean }, clock: Clock, registeredList: Int32Array, kind: CarefulKind, accounts: number): Enumerator {
  const { space, maxContacts: M } = scenario;
  const e = new Enumerator(`${kind}-${accounts}`, carefulLabel(kind, accounts), space);
  const rand = scenario.stream(`careful-${kind}-${accounts}`);
  const walk = new SharedWalk(scenario.permutation(`careful-walk-${kind}-${accounts}`), space);
  const known = Array.from({ length: Math.round(registeredList.length * CROWD_KNOWN_SHARE) }, () => registeredList[below(rand, registeredList.length)]!);
  // What the crowd already knew is not what these accounts reveal.
  for (const x of known) e.found[x] = 1;
  const density0 = 0.1;
  for (let k = 0; k < accounts; k++) {
    const start = T0 + rand() * HOUR_MS;
    const entry = e.addAccount(start, `${kind}-${accounts}-net-${k}`);
    // Its own registered numbers: what it may pad with without asking anything new.
    const own: number[] = [];
    let book: Int32Array | null = null;
    if (kind !== "padded") {
      const spec = kind === "sleeper" ? SLEEPER_BOOK : CRM_BOOK;
      const reg = Math.round(spec.size * spec.registered);
      const walked = walk.next(spec.size - reg);
      book = new Int32Array(spec.size);
      for (let i = 0; i < reg; i++) book[i] = known[below(rand, known.length)]!;
      book.set(walked, reg);
    }
    let bookAt = 0;
    let wakeAt = start;
    let cap = M;
    let checked = 0;
    let hits = 0;
    const absorb = (answer: Answer & { ok: true }) => {
      for (const x of answer.added) own.push(x);
    };
    const tick = (now: number) => {
      if (entry.dead) return;
      // The book first, in requests the budget takes, as an honest client would send it.
      if (book && bookAt < book.length) {
        for (let r = 0; r < NO_LIMIT_REQUESTS_PER_HOUR && bookAt < book.length; r++) {
          const n = Math.min(M, cap, service.fits(entry.account, "full", now), book.length - bookAt);
          if (n < 1) break;
          const part = book.subarray(bookAt, bookAt + n);
          const answer = e.ask(service, entry, "full", part, now);
          if (!answer.ok) {
            if (answer.retryAfterSeconds === null) {
              if (service.closed(entry.account)) return void (entry.dead = true);
              cap = Math.max(1, Math.floor(n / 2));
            }
            break;
          }
          absorb(answer);
          bookAt += n;
        }
        if (bookAt >= book.length) wakeAt = now + (kind === "sleeper" ? SLEEP_HOURS * HOUR_MS : 0);
        return clock.at(now + HOUR_MS, tick);
      }
      if (now < wakeAt) return clock.at(wakeAt, tick);
      for (let r = 0; r < NO_LIMIT_REQUESTS_PER_HOUR && !walk.done; r++) {
        const density = checked > 1000 ? hits / checked : density0;
        const padShare = service.detection ? Math.max(0, (CAREFUL_TARGET_RATIO - density) / (1 - density)) : 0;
        const pool = own.length > 0 ? own : kind === "padded" ? known : own;
        const allowed = Math.min(cap, service.fits(entry.account, "full", now));
        let fresh: number;
        let pad: number;
        if (service.reaskFree) {
          // Re-asked numbers are free: the budget is all new numbers, padding (if any) on top.
          fresh = Math.min(allowed, M);
          pad = 0;
        } else {
          let size = Math.min(M, service.detection && allowed > M / 2 ? allowed - EVASIVE_FREE : allowed);
          if (padShare > 0) size = Math.min(size, Math.floor(pool.length / padShare));
          pad = Math.ceil(size * padShare);
          fresh = size - pad;
        }
        if (fresh < 1) break;
        const news = walk.next(fresh);
        const numbers = new Int32Array(news.length + pad);
        numbers.set(news);
        for (let i = 0, j = pool.length - 1; i < pad; i++, j--) {
          const x = below(rand, j + 1);
          [pool[x], pool[j]] = [pool[j]!, pool[x]!];
          numbers[news.length + i] = pool[j]!;
        }
        const answer = e.ask(service, entry, "full", numbers, now);
        if (!answer.ok) {
          // The walk's numbers go back to nobody: the crowd loses them (a few per refusal).
          if (answer.retryAfterSeconds === null) {
            if (service.closed(entry.account)) return void (entry.dead = true);
            cap = Math.max(1, Math.floor(numbers.length / 2));
          }
          break;
        }
        cap = Math.min(M, cap * 2);
        const newsSet = new Set(news);
        checked += news.length;
        for (const x of answer.added) if (newsSet.has(x)) (hits++, own.push(x));
      }
      if (!walk.done) clock.at(now + HOUR_MS, tick);
    };
    clock.at(start, tick);
  }
  return e;
}
