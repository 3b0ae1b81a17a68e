// What the simulated service looks things up in, and when: the directory of registered users with
// its churn, the identifiers the service sees, and the simulated clock.

import { DAY_MS } from "../../src/core/time";
import { type Rand, below } from "./random";

// ---- Identifiers: the bytes the service sees (and its sketch hashes) ----
// The real client sends SHA-256 of "+<number>" (32 bytes). Hashing tens of millions of numbers that
// way would take minutes (3 us each), so a number's identifier here is its 8-byte big-endian value:
// the sketch hashes it with MurmurHash3 all the same, and its estimates on consecutive numbers are as
// good as on random ones (checked at 1,000 to 45,000 consecutive numbers: mean error under 1%).

const idBytes = new Uint8Array(8);
const idView = new DataView(idBytes.buffer);
export function* identifiers(numbers: ArrayLike<number>): Generator<Uint8Array> {
  for (let i = 0; i < numbers.length; i++) {
    idView.setUint32(4, numbers[i]!);
    yield idBytes; // hashed at once by the sketch, so one buffer serves every identifier
  }
}

// ---- The directory: registered users as a bitmap over the number space, with churn ----

export interface ChurnEvent {
  at: number;
  number: number;
  register: boolean;
}

export interface BaseDirectory {
  registered: Uint8Array;
  list: Int32Array;
}

/** `users` registered numbers drawn at random from 0 .. space-1. */
export function baseDirectory(rand: Rand, space: number, users: number): BaseDirectory {
  const registered = new Uint8Array(space);
  const list = new Int32Array(users);
  for (let n = 0; n < users; ) {
    const x = below(rand, space);
    if (!registered[x]) {
      registered[x] = 1;
      list[n++] = x;
    }
  }
  return { registered, list };
}

/** Each day from `from` until `to`, registrationsPerDay registrations and removalsPerDay removals at random times. */
export function churnEvents(rand: Rand, base: Uint8Array, { from, to, registrationsPerDay, removalsPerDay }: { from: number; to: number; registrationsPerDay: number; removalsPerDay: number }): ChurnEvent[] {
  const space = base.length;
  const registered = base.slice();
  const events: ChurnEvent[] = [];
  for (let day = from; day < to; day += DAY_MS) {
    const today: ChurnEvent[] = [];
    for (let i = 0; i < registrationsPerDay; i++) today.push({ at: day + below(rand, DAY_MS), number: -1, register: true });
    for (let i = 0; i < removalsPerDay; i++) today.push({ at: day + below(rand, DAY_MS), number: -1, register: false });
    today.sort((x, y) => x.at - y.at);
    for (const e of today) {
      // A registration takes an unregistered number, a removal a registered one, as things stand then.
      do e.number = below(rand, space);
      while (registered[e.number] === (e.register ? 1 : 0));
      registered[e.number] = e.register ? 1 : 0;
      events.push(e);
    }
  }
  return events;
}

export class Directory {
  readonly registered: Uint8Array;
  /** The latest change of each number that ever changed: S2 is those at or after now - S2_DELTA. */
  private readonly changes = new Map<number, { at: number; registered: boolean }>();
  /** Whether a number is in `changes`: most numbers an incremental sync asks about never changed, and a byte is quicker to read than a map. */
  private readonly changed: Uint8Array;
  private next = 0;

  constructor(base: Uint8Array, private readonly churn: ChurnEvent[]) {
    this.registered = base.slice();
    this.changed = new Uint8Array(base.length);
  }

  /** Applies the churn up to `now`. */
  advance(now: number): void {
    for (; this.next < this.churn.length && this.churn[this.next]!.at <= now; this.next++) {
      const e = this.churn[this.next]!;
      this.registered[e.number] = e.register ? 1 : 0;
      this.changes.set(e.number, { at: e.at, registered: e.register });
      this.changed[e.number] = 1;
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
      if (!this.changed[numbers[i]!]) continue;
      const change = this.changes.get(numbers[i]!);
      if (!change || change.at < since) continue;
      if (change.registered) added.push(numbers[i]!);
      else removed++;
    }
    return { added, removed };
  }
}

// ---- Simulated time ----

/** Events in time order (ties in the order they were scheduled), from `start` until `end`; the directory's churn is applied before each. */
export class Clock {
  private heap: { at: number; seq: number; run: (now: number) => void }[] = [];
  private seq = 0;
  constructor(
    private readonly directory: Directory,
    private readonly start: number,
    private readonly end: number,
  ) {}

  at(at: number, run: (now: number) => void): void {
    if (at >= this.end) return;
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

  /** Runs every event; `onDay` at the start of each day from `start` to `end`, before that day's events. */
  run(onDay: (day: number) => void): void {
    let nextDay = this.start;
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
      for (; nextDay <= top.at; nextDay += DAY_MS) onDay(nextDay);
      this.directory.advance(top.at);
      top.run(top.at);
    }
    for (; nextDay <= this.end; nextDay += DAY_MS) onDay(nextDay);
  }
}
