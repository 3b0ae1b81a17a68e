// The network rule's decisions on a guard's state (docs/detection.md, "Network rule"). Pure: the
// NetworkGuard object stores what they return, and `npm run simulate` runs them in memory.

import { chargeBucket } from "./bucket";
import type { Config } from "./config";
import { DAY_MS } from "./time";

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

/** `newClients`: when its bucket of new clients is empty; `throttledUntil` 0: never. */
export interface GuardState {
  newClients: number;
  throttledUntil: number;
}

export function throttleOf(throttledUntil: number, now: number): { ok: false; retryAfterSeconds: number } | null {
  return throttledUntil > now ? { ok: false, retryAfterSeconds: Math.ceil((throttledUntil - now) / 1000) } : null;
}

/** A field of the result is absent when unchanged; `throttledNow` marks, once, the client that throttled the network. */
export function admitToNetwork(
  state: GuardState,
  perDay: number,
  now: number,
): { admission: Admission & { throttledNow?: { accounts: number } }; newClients?: number; throttledUntil?: number } {
  const throttled = throttleOf(state.throttledUntil, now);
  if (throttled) return { admission: throttled };
  const outcome = chargeBucket({ capacity: perDay, drainMs: DAY_MS }, state.newClients, 1, now);
  if (outcome.ok) return { admission: { ok: true }, newClients: outcome.emptyAt };
  return { admission: { ok: false, retryAfterSeconds: DAY_MS / 1000, throttledNow: { accounts: perDay + 1 } }, throttledUntil: now + DAY_MS };
}

export function admissionGuards(config: Pick<Config, "guard" | "networkAccountsPerDay" | "asnAccountsPerDay">, network: string, asn: number | undefined): [string, number][] {
  if (!config.guard) return [];
  const guards: [string, number][] = [[network, config.networkAccountsPerDay]];
  if (asn !== undefined) guards.push([`asn:${asn}`, config.asnAccountsPerDay]);
  return guards;
}

export const firstRefusal = <A extends Admission>(verdicts: A[]): A | { ok: true } => verdicts.find((v) => !v.ok) ?? { ok: true };
