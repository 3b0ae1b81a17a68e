// The order of a discovery request's steps after authentication (docs/protocol.md): refuse what can
// never fit, charge the client's bucket (all or nothing), let the network admit a client's first
// sync, then look up; a refusal after the charge gives the charge back. Pure: each function takes
// what the step before produced and names the next step. src/domain/discovery.ts runs the steps
// against the objects and the database, `npm run simulate` against its memory, in the order these
// functions give.

import type { Admission } from "./admission";
import type { ChargeDecision } from "./charge-policy";

export type Charged = Extract<ChargeDecision, { ok: true }>;

export type DiscoveryStep =
  | { step: "charge" }
  /** A client's first sync (no signals yet): its network's allowance of new clients decides. */
  | { step: "admit"; charged: Charged }
  | { step: "look-up"; charged: Charged }
  /** Nothing to look up: answered at once, nothing charged. */
  | { step: "answer-empty" }
  /** Refused with this Retry-After (null: waiting does not help); `refund`: give the charge back first. */
  | { step: "refuse"; retryAfterSeconds: number | null; refund: boolean };

type Step<S extends DiscoveryStep["step"]> = Extract<DiscoveryStep, { step: S }>;

/** Before anything is charged: more than a full bucket can never fit (no Retry-After, nothing charged). */
export function beforeCharge(n: number, maxContacts: number): Step<"refuse" | "answer-empty" | "charge"> {
  if (n > maxContacts) return { step: "refuse", retryAfterSeconds: null, refund: false };
  if (n === 0) return { step: "answer-empty" };
  return { step: "charge" };
}

/**
 * After the charge: refused for the budget (with the wait after which it fits) or over the client's
 * quarantine or probation limit (no wait helps); charged, a fresh client goes to admission first.
 */
export function afterCharge(charged: ChargeDecision): Step<"refuse" | "admit" | "look-up"> {
  if (!charged.ok) return { step: "refuse", retryAfterSeconds: "retryAfterSeconds" in charged ? charged.retryAfterSeconds : null, refund: false };
  return charged.fresh ? { step: "admit", charged } : { step: "look-up", charged };
}

/** After a fresh client's admission: refused by its network, it gets its charge back and the network's wait. */
export function afterAdmission(charged: Charged, admitted: Admission): Step<"refuse" | "look-up"> {
  if (!admitted.ok) return { step: "refuse", retryAfterSeconds: admitted.retryAfterSeconds, refund: true };
  return { step: "look-up", charged };
}
