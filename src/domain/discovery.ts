// Full and incremental discovery, in the order of docs/protocol.md: authenticate, refuse what can never
// fit, charge the bucket (all or nothing), then answer the lookup. Results keep request order.
//
// The lookup runs while the bucket is being charged (a client's object is usually cold, and its
// first write costs as much as a lookup): its rows are only answered once the charge succeeded, so a
// refused request still learns nothing and pays nothing. A refusal costs that lookup, though; so a
// client refused in this isolate is served in strict order (charge, then look up) for a while.

import { authenticate } from "./accounts";
import type { BucketKind } from "../core/bucket";
import { type ChargeResult, bucketsOf } from "../objects/client-buckets";
import type { Config } from "../core/config";
import { afterAdmission, afterCharge, beforeCharge } from "../core/discovery-steps";
import * as db from "../db/users";
import type { Shards } from "../db/shards";
import { toHex } from "../core/hex";
import { type Origin, admitNewClient } from "./admission";
import { inBackground, observeRefusal, observeSync } from "./observation";
import { type Outcome, type ParsedRequest, Result, outcome } from "../core/wire";

export async function discover(
  env: Env,
  shards: Shards,
  config: Config,
  kind: BucketKind,
  req: ParsedRequest,
  { now, waitUntil, origin }: { now: number; waitUntil: (p: Promise<unknown>) => void; origin: Origin },
): Promise<Outcome> {
  const started = performance.now();
  const account = await authenticate(shards, req.user, req.authToken);
  const authenticated = performance.now();
  if (!account) return outcome(Result.AUTHENTICATION_INVALID);

  const ids = req.identifiers;
  // The order of the steps and what each outcome leads to: src/core/discovery-steps.ts.
  const screened = beforeCharge(ids.length, config.maxContacts);
  if (screened.step === "refuse") return refused(screened);
  if (screened.step === "answer-empty") return outcome(Result.SUCCESS);

  const buckets = bucketsOf(env, req.user, account.bucketEpoch);
  const refusalKey = `${kind}:${toHex(req.user)}`;
  const look = () => answerLookup(shards, kind, ids, now - config.s2DeltaMs).then((answer) => ({ answer, at: performance.now() }));
  const early = wasRefusedRecently(refusalKey, now) ? null : look();
  early?.catch(() => {}); // awaited below only if the charge succeeds
  let charged: ChargeResult;
  try {
    charged = await buckets.charge(kind, ids.length, now);
  } catch (error) {
    // The bucket could not be reached, so nothing was charged: the client may simply retry.
    console.error(`bucket charge failed: ${(error as Error).message}`);
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
  if ("blocked" in charged) return outcome(Result.AUTHENTICATION_INVALID);
  let next = afterCharge(charged);
  if (next.step === "refuse") {
    rememberRefusal(refusalKey, now);
    inBackground(waitUntil, () => observeRefusal(env, now));
    // Over a quarantined or probation limit, no wait helps: a smaller request or an operator's clear may.
    return refused(next);
  }

  const chargedAt = performance.now();
  if (next.step === "admit") {
    // A client's first sync counts against its network's daily allowance of new clients.
    const admitted = await admitNewClient(env, origin, now).catch((error: Error) => {
      console.error(`network admission failed: ${error.message}`);
      return { ok: true } as const; // the guard failing open costs less than every new client refused
    });
    const admission = afterAdmission(next.charged, admitted);
    if (admission.step === "refuse") {
      if (admission.refund) await buckets.refund(kind, ids.length, now).catch((e: Error) => console.error(`refund failed: ${e.message}`));
      return refused(admission);
    }
    next = admission;
  }

  let answer: Outcome;
  let answeredAt: number;
  try {
    ({ answer, at: answeredAt } = await (early ?? look()));
  } catch (error) {
    // The client paid for an answer it did not get: give the charge back and ask it to retry.
    console.error(`discovery lookup failed: ${(error as Error).message}`);
    await buckets.refund(kind, ids.length, now).catch((e: Error) => console.error(`refund failed: ${e.message}`));
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
  // For operators (Server-Timing): where the time of an answered sync went, inside the Worker.
  // charge and lookup overlap: both are counted from the end of authentication.
  answer.timings = { auth: authenticated - started, charge: chargedAt - authenticated, lookup: answeredAt - authenticated, ...answer.timings };
  const matches = (answer.added?.length ?? 0) + (answer.removed?.length ?? 0);
  const sync = { user: req.user, bucketEpoch: account.bucketEpoch, kind, identifiers: ids, matches, edge: next.charged.edge, flagged: next.charged.flagged };
  inBackground(waitUntil, () => observeSync(env, shards, config, sync, now));
  return answer;
}

/** A refusal for the budget or by the network, with its Retry-After when waiting helps. */
const refused = ({ retryAfterSeconds }: { retryAfterSeconds: number | null }): Outcome =>
  outcome(Result.RATE_LIMIT_EXCEEDED, retryAfterSeconds === null ? {} : { retryAfterSeconds });

/** Clients refused lately in this isolate, by kind and identifier: until when to charge before looking up. */
const refusedUntil = new Map<string, number>();
const REFUSAL_MEMORY_MS = 60_000;
const REFUSAL_MEMORY_ENTRIES = 10_000;

function wasRefusedRecently(key: string, now: number): boolean {
  const until = refusedUntil.get(key);
  if (until !== undefined && until <= now) refusedUntil.delete(key);
  return until !== undefined && until > now;
}

function rememberRefusal(key: string, now: number): void {
  if (refusedUntil.size >= REFUSAL_MEMORY_ENTRIES) refusedUntil.clear(); // bounded; forgetting only costs a lookup
  refusedUntil.set(key, now + REFUSAL_MEMORY_MS);
}

/** The answer of a sync: S1 for a full one, S2 since `since` for an incremental one. */
async function answerLookup(shards: Shards, kind: BucketKind, ids: Uint8Array[], since: number): Promise<Outcome> {
  if (kind === "full") {
    const { rows, sqlMs, d1Ms } = await db.findRegistered(shards, ids);
    return outcome(Result.SUCCESS, { added: rows.map((r) => ids[r.i]!), sqlMs, timings: { d1: d1Ms } });
  }
  const { rows, sqlMs, d1Ms } = await db.findChanges(shards, ids, since);
  return outcome(Result.SUCCESS, {
    added: rows.filter((r) => r.registered === 1).map((r) => ids[r.i]!),
    removed: rows.filter((r) => r.registered === 0).map((r) => ids[r.i]!),
    sqlMs,
    timings: { d1: d1Ms },
  });
}
