// The order of a discovery request's steps (docs/protocol.md, "Order of the checks"), written once:
// src/domain/discovery.ts answers its ports with objects and D1, `npm run simulate` from memory. Pure.

import type { ChargeDecision } from "./charge-policy";

export type Charged = Extract<ChargeDecision, { ok: true }>;

export type DiscoveryStep =
  | { step: "charge" }
  | { step: "look-up"; charged: Charged }
  | { step: "answer-empty" }
  /** retryAfterSeconds null: waiting does not help. */
  | { step: "refuse"; retryAfterSeconds: number | null };

type Step<S extends DiscoveryStep["step"]> = Extract<DiscoveryStep, { step: S }>;

export function beforeCharge(n: number, maxContacts: number): Step<"refuse" | "answer-empty" | "charge"> {
  if (n > maxContacts) return { step: "refuse", retryAfterSeconds: null };
  if (n === 0) return { step: "answer-empty" };
  return { step: "charge" };
}

/** A client's first sync is admitted by its network's guards inside the charge: refused there, nothing is charged. */
export function afterCharge(charged: ChargeDecision): Step<"refuse" | "look-up"> {
  if (!charged.ok) return { step: "refuse", retryAfterSeconds: "retryAfterSeconds" in charged ? charged.retryAfterSeconds : null };
  return { step: "look-up", charged };
}

export type Authentication = { authenticated: false } | { authenticated: true; charged: ChargeDecision | null };

export interface DiscoveryPorts<Answer, Observed> {
  lookUp(): Answer | Promise<Answer>;
  /** Charges only when the request `fits`, a first sync once its network admits it; `early`, the answer
   * looked up first, is recorded by the same call. */
  charge(fits: boolean, early: { answer: Answer } | null): Authentication | Promise<Authentication>;
  refund(): void | Promise<void>;
  observe(charged: Charged, answer: Answer): Observed | Promise<Observed>;
}

export type DiscoveryEnd<Answer, Observed> =
  | { end: "unauthenticated" }
  /** Nothing stays charged: the client may retry. */
  | { end: "unavailable"; failed: "charge" | "look-up"; error: unknown }
  | { end: "answer-empty" }
  | { end: "refused"; retryAfterSeconds: number | null }
  | { end: "answered"; charged: Charged; answer: Answer; observed: Observed };

export interface DiscoveryRequest {
  n: number;
  maxContacts: number;
  /** Unless the Worker refused the client lately: then a bad request never costs a lookup. */
  lookUpFirst: boolean;
}

// Looked up first, rows are still answered only once the charge succeeded, and the charge's call records
// what they showed; in strict order, a bad request never costs a lookup (docs/design.md, "One sync, step by step").
function* discoverySteps<A, O>(ports: DiscoveryPorts<A, O>, { n, maxContacts, lookUpFirst }: DiscoveryRequest): Steps<DiscoveryEnd<A, O>> {
  const screened = beforeCharge(n, maxContacts);
  let early: { answer: A } | null = null;
  if (lookUpFirst && screened.step === "charge") {
    try {
      early = { answer: yield* settled(ports.lookUp()) };
    } catch (error) {
      return { end: "unavailable", failed: "look-up", error };
    }
  }
  let auth: Authentication;
  try {
    auth = yield* settled(ports.charge(screened.step === "charge", early));
  } catch (error) {
    return { end: "unavailable", failed: "charge", error };
  }
  if (!auth.authenticated) return { end: "unauthenticated" };
  if (screened.step === "refuse") return { end: "refused", retryAfterSeconds: screened.retryAfterSeconds };
  if (screened.step === "answer-empty" || !auth.charged) return { end: "answer-empty" };

  const next = afterCharge(auth.charged);
  if (next.step === "refuse") return { end: "refused", retryAfterSeconds: next.retryAfterSeconds };

  let answer: A;
  try {
    answer = early ? early.answer : yield* settled(ports.lookUp());
  } catch (error) {
    yield* settled(ports.refund()); // the client paid for an answer it did not get
    return { end: "unavailable", failed: "look-up", error };
  }
  return { end: "answered", charged: next.charged, answer, observed: yield* settled(ports.observe(next.charged, answer)) };
}

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

export function runDiscoveryNow<A, O>(ports: SyncPorts<A, O>, request: DiscoveryRequest): DiscoveryEnd<A, O> {
  const steps = discoverySteps(ports, request);
  let step = steps.next();
  while (!step.done) step = steps.next(step.value);
  return step.value;
}

export type SyncPorts<A, O> = { [K in keyof DiscoveryPorts<A, O>]: (...args: Parameters<DiscoveryPorts<A, O>[K]>) => Exclude<ReturnType<DiscoveryPorts<A, O>[K]>, Promise<unknown>> };

// The sequence hands each port's result to its runner, which awaits it (or not) and hands it back:
// so that one sequence serves ports that answer with promises and ports that answer at once.
type Steps<R> = Generator<unknown, R, unknown>;

function* settled<T>(result: T | Promise<T>): Steps<T> {
  return (yield result) as T;
}
