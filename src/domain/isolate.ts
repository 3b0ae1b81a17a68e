// What one isolate keeps between the requests it serves, made once in src/index.ts. Losing any of it
// costs only a little latency or a call more, never a wrong answer.

import type { BucketKind } from "../core/bucket";
import { IsolateMonitoring } from "./monitoring";
import { MINUTE_MS } from "../core/time";

export interface Isolate {
  /** Their answer is looked up before the charge. */
  readonly trusted: TrustedClients;
  readonly monitoring: IsolateMonitoring;
}

export const newIsolate = (): Isolate => ({ trusted: new TrustedClients(), monitoring: new IsolateMonitoring() });

const TRUST_MS = 10 * MINUTE_MS;
const TRUST_ENTRIES = 10_000;

export class TrustedClients {
  private readonly until = new Map<string, number>();

  has(kind: BucketKind, client: string, now: number): boolean {
    const until = this.until.get(`${kind}:${client}`);
    return until !== undefined && until > now;
  }

  trust(kind: BucketKind, client: string, now: number): void {
    if (this.until.size >= TRUST_ENTRIES) this.until.clear(); // bounded; forgetting only costs a little latency
    this.until.set(`${kind}:${client}`, now + TRUST_MS);
  }

  forget(kind: BucketKind, client: string): void {
    this.until.delete(`${kind}:${client}`);
  }
}
