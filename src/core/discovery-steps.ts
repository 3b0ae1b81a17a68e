// The order of a discovery request's steps (docs/protocol.md): authenticate, refuse what can never
// fit, charge the client's bucket (all or nothing), let the network admit a client's first sync,
// look up, observe; a refusal or a failed lookup after the charge gives the charge back. Pure: the
// sequence below is written once and asks its ports for each step. src/domain/discovery.ts answers
// them with the client's object, the guard objects and D1 (runDiscovery), `npm run simulate` from
// its memory (runDiscoveryNow).

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

/** What authentication and the charge answered: `charged` is null when nothing was to be charged. */
export type Authentication = { authenticated: false } | { authenticated: true; charged: ChargeDecision | null };

/**
 * The steps, as the sequence asks for them; `Answer` is what a lookup answers, `Observed` what an
 * observation leaves. The Worker's ports return promises, the simulation's plain values.
 */
export interface DiscoveryPorts<Answer, Observed> {
  /** The lookup of the request's identifiers (S1 for a full sync, S2 for an incremental one). */
  lookUp(): Answer | Promise<Answer>;
  /**
   * Authenticates the client and, when the request `fits`, charges its bucket, all or nothing.
   * `early`: the answer looked up before the charge, which the charge may record at once.
   */
  charge(fits: boolean, early: { answer: Answer } | null): Authentication | Promise<Authentication>;
  /** A fresh client's first sync against its network's allowance of new clients. */
  admit(charged: Charged): Admission | Promise<Admission>;
  /** Gives the charge back: the client did not get what it paid for. */
  refund(): void | Promise<void>;
  /** What an answered sync teaches the monitoring and the client's signals. */
  observe(charged: Charged, answer: Answer): Observed | Promise<Observed>;
}

/** How a discovery request ended. */
export type DiscoveryEnd<Answer, Observed> =
  | { end: "unauthenticated" }
  /** A call failed and nothing stays charged (the charge failed, happened not yet, or was given back): retry. */
  | { end: "unavailable"; failed: "charge" | "look-up"; error: unknown }
  | { end: "answer-empty" }
  | { end: "refused"; retryAfterSeconds: number | null }
  | { end: "answered"; charged: Charged; answer: Answer; observed: Observed };

export interface DiscoveryRequest {
  /** Identifiers in the request, and the most a request may carry (MAX_CONTACTS). */
  n: number;
  maxContacts: number;
  /** Whether the answer is looked up before the charge (the Worker, for a client it charged lately). */
  lookUpFirst: boolean;
}

/**
 * The sequence. A client charged lately (`lookUpFirst`) has its answer looked up before the charge,
 * so that the charge can record what it showed in the same call; its rows are still only answered
 * once the charge succeeded, so a refused request learns nothing and pays nothing. Anyone else is
 * served in strict order, so that a bad request never costs a lookup.
 */
function* discoverySteps<A, O>(ports: DiscoveryPorts<A, O>, { n, maxContacts, lookUpFirst }: DiscoveryRequest): Steps<DiscoveryEnd<A, O>> {
  const screened = beforeCharge(n, maxContacts);
  let early: { answer: A } | null = null;
  if (lookUpFirst && screened.step === "charge") {
    try {
      early = { answer: yield* settled(ports.lookUp()) };
    } catch (error) {
      return { end: "unavailable", failed: "look-up", error }; // nothing was charged
    }
  }
  let auth: Authentication;
  try {
    auth = yield* settled(ports.charge(screened.step === "charge", early));
  } catch (error) {
    return { end: "unavailable", failed: "charge", error }; // the charge did not happen: the client may simply retry
  }
  if (!auth.authenticated) return { end: "unauthenticated" };
  if (screened.step === "refuse") return { end: "refused", retryAfterSeconds: screened.retryAfterSeconds };
  if (screened.step === "answer-empty" || !auth.charged) return { end: "answer-empty" };

  let next = afterCharge(auth.charged);
  if (next.step === "admit") next = afterAdmission(next.charged, yield* settled(ports.admit(next.charged)));
  if (next.step === "refuse") {
    if (next.refund) yield* settled(ports.refund());
    return { end: "refused", retryAfterSeconds: next.retryAfterSeconds };
  }

  let answer: A;
  try {
    answer = early ? early.answer : yield* settled(ports.lookUp());
  } catch (error) {
    yield* settled(ports.refund()); // the client paid for an answer it did not get
    return { end: "unavailable", failed: "look-up", error };
  }
  return { end: "answered", charged: next.charged, answer, observed: yield* settled(ports.observe(next.charged, answer)) };
}

/** Runs the sequence against ports that answer with promises (the Worker's). */
export async function runDiscovery<A, O>(ports: DiscoveryPorts<A, O>, request: DiscoveryRequest): Promise<DiscoveryEnd<A, O>> {
  const steps = discoverySteps(ports, request);
  let step = steps.next();
  while (!step.done) {
    let result: { value: unknown } | { error: unknown };
    try {
      result = { value: await step.value };
    } catch (error) {
      result = { error };
    }
    step = "error" in result ? steps.throw(result.error) : steps.next(result.value);
  }
  return step.value;
}

/** Runs the sequence against ports that answer at once (the simulation's), without a promise. */
export function runDiscoveryNow<A, O>(ports: SyncPorts<A, O>, request: DiscoveryRequest): DiscoveryEnd<A, O> {
  const steps = discoverySteps(ports, request);
  let step = steps.next();
  while (!step.done) step = steps.next(step.value);
  return step.value;
}

/** Ports none of which returns a promise. */
export type SyncPorts<A, O> = { [K in keyof DiscoveryPorts<A, O>]: (...args: Parameters<DiscoveryPorts<A, O>[K]>) => Exclude<ReturnType<DiscoveryPorts<A, O>[K]>, Promise<unknown>> };

// The sequence hands each port's result to its runner, which awaits it (or not) and hands it back:
// so that one sequence serves ports that answer with promises and ports that answer at once.
type Steps<R> = Generator<unknown, R, unknown>;

function* settled<T>(result: T | Promise<T>): Steps<T> {
  return (yield result) as T;
}
