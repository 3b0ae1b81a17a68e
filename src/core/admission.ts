// The network rule of enumeration detection, as decisions on a guard's state. Pure: the NetworkGuard
// object (src/objects/network-guard.ts) stores what they return, src/domain/admission.ts picks the
// guards and combines their verdicts, and `npm run simulate` runs the same functions in memory.
//
// A client's first sync counts against a daily allowance of new clients, per network and per ASN: a
// leaky bucket of `perDay` that drains in a day. The client that goes over it throttles the network
// for a day; while throttled, the network gets no new clients (and no registrations: throttleOf).

import { chargeBucket } from "./bucket";
import type { Config } from "./config";
import { DAY_MS } from "./time";

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

/** What a guard keeps for the network rule: when its bucket of new clients is empty, and until when it is throttled (0: never). */
export interface GuardState {
  newClients: number;
  throttledUntil: number;
}

/** The refusal of a throttled network, with the wait until the throttle ends; null when it is not throttled. */
export function throttleOf(throttledUntil: number, now: number): { ok: false; retryAfterSeconds: number } | null {
  return throttledUntil > now ? { ok: false, retryAfterSeconds: Math.ceil((throttledUntil - now) / 1000) } : null;
}

/**
 * A new client of a network with `perDay` new clients a day: its verdict, and what the guard stores
 * after it (a field is absent when unchanged). `throttledNow` marks, once, the client that throttled it.
 */
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

/** The guards a fresh client must pass, each with its daily allowance: its network's, and its ASN's when known; none with the guard off. */
export function admissionGuards(config: Pick<Config, "guard" | "networkAccountsPerDay" | "asnAccountsPerDay">, network: string, asn: number | undefined): [string, number][] {
  if (!config.guard) return [];
  const guards: [string, number][] = [[network, config.networkAccountsPerDay]];
  if (asn !== undefined) guards.push([`asn:${asn}`, config.asnAccountsPerDay]);
  return guards;
}

/** All guards' verdicts in one: the first refusal, else admitted. */
export const firstRefusal = <A extends Admission>(verdicts: A[]): A | { ok: true } => verdicts.find((v) => !v.ok) ?? { ok: true };
