// What one isolate keeps between the requests it serves, made once in src/index.ts. Losing any of it
// costs only a little latency or a call more, never a wrong answer.

import { IsolateMonitoring } from "./monitoring";
import { MINUTE_MS } from "../core/time";

export interface Isolate {
  /** Clients refused or not authenticated lately: served in strict order, so a bad request costs no lookup. */
  readonly strict: RecentNames;
  /** S2 index parts that answered "unbuilt": asked again only after a while, D1 answering meanwhile. */
  readonly unbuiltParts: RecentNames;
  readonly monitoring: IsolateMonitoring;
}

export const newIsolate = (): Isolate => ({ strict: new RecentNames(10 * MINUTE_MS), unbuiltParts: new RecentNames(MINUTE_MS), monitoring: new IsolateMonitoring() });

const ENTRIES = 10_000;

/** Names remembered for `forMs`, at most ENTRIES of them. */
export class RecentNames {
  private readonly until = new Map<string, number>();

  constructor(private readonly forMs: number) {}

  has(name: string, now: number): boolean {
    const until = this.until.get(name);
    return until !== undefined && until > now;
  }

  note(name: string, now: number): void {
    if (this.until.size >= ENTRIES) this.until.clear(); // bounded; forgetting only costs a little
    this.until.set(name, now + this.forMs);
  }
}
