// Full and incremental discovery, in the order of docs/protocol.md: authenticate, refuse what can
// never fit, charge the bucket (all or nothing), then answer the lookup. Results keep request order.
//
// Round trips of a sync: one call to the client's object, which authenticates (it holds a copy of
// the credential) and charges in one go, and the lookup (D1; for an incremental sync the S2 index
// first, and D1 only for what it cannot rule out). Only a client whose object does not know its
// credential yet (an imported user, an object swept after a month idle) costs one D1 read more, once.
//
// For a client this isolate has charged lately, the lookup comes first and the object then charges
// and records what the answer showed (the observation) in the same call: one call and one write per
// sync. Its rows are only answered once the charge succeeded, so a refused request still learns
// nothing and pays nothing. Anyone else (a first request here, a client refused lately, a stranger
// with a made-up token) is served in strict order, so a bad request never costs a lookup, and its
// observation is a second call after the answer (ctx.waitUntil). No sync calls a shared object.

import type { BucketKind } from "../core/bucket";
import type { Config } from "../core/config";
import { afterAdmission, afterCharge, beforeCharge } from "../core/discovery-steps";
import { probationDuring } from "../core/egress";
import { toHex } from "../core/hex";
import { sketchOf } from "../core/hyperloglog";
import { hashToken, sameHash } from "../core/token";
import { type Outcome, type ParsedRequest, Result, outcome } from "../core/wire";
import type { Shards } from "../db/shards";
import * as db from "../db/users";
import { type ChargeResult, type Observation, type SyncVerdict, bucketsOf } from "../objects/client-buckets";
import { bucketEpoch } from "./accounts";
import { type Origin, admissionKeys, admitNewClient, networkKeys } from "./admission";
import { currentNorm, egressEpisode } from "./monitoring";
import { inBackground, observeRefusal, observeSync, tallyObserved } from "./observation";
import { s2Candidates } from "./s2-filter";
import { type Stored, storedRequest } from "./pseudonyms";

export async function discover(
  env: Env,
  shards: Shards,
  config: Config,
  kind: BucketKind,
  req: ParsedRequest,
  { now, waitUntil, origin }: { now: number; waitUntil: (p: Promise<unknown>) => void; origin: Origin },
): Promise<Outcome> {
  const started = performance.now();
  const ids = req.identifiers;
  // Users are stored and named by pseudonyms: the client's own and its identifiers' (by request position).
  const { user, stored } = await storedRequest(env, shards, req.user, ids);
  const tokenHash = await hashToken(req.authToken);
  let epoch: number;
  try {
    epoch = await bucketEpoch(shards, config);
  } catch (error) {
    console.error(`bucket epoch unreadable: ${(error as Error).message}`);
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
  const buckets = bucketsOf(env, user.user, epoch);
  const key = `${epoch}:${toHex(user.user)}`;
  const look = () => answerLookup(env, shards, config, epoch, kind, ids, stored, now - config.s2DeltaMs, { now, waitUntil }).then((answer) => ({ answer, at: performance.now() }));
  const worthALookup = ids.length > 0 && ids.length <= config.maxContacts;

  // A client this isolate charged lately has its answer looked up first: the object then charges
  // and records what the answer showed in one call and one write. Its answer is only sent once the
  // charge succeeded, so a refused request still learns nothing and pays nothing.
  let looked: { answer: Outcome; at: number } | null = null;
  let observation: Observation | undefined;
  if (worthALookup && isTrusted(key, kind, now)) {
    try {
      looked = await look();
    } catch (error) {
      console.error(`discovery lookup failed: ${(error as Error).message}`);
      return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 }); // nothing was charged
    }
    observation = { matches: matchesOf(looked.answer), sketch: sketchOf(ids), normHitRatio: currentNorm(env, config, now, waitUntil) };
  }

  // During an egress episode, clients not yet judged are held to a tighter probation limit.
  const syncRequest = { kind, n: ids.length, maxContacts: config.maxContacts, tokenHash, probationLimit: probationDuring(config.egress, egressEpisode()), observation };
  let verdict: SyncVerdict;
  let objectCalls = 1;
  let credentialReads = 0;
  try {
    verdict = await buckets.sync(syncRequest, now);
    if (verdict.auth === "unknown") {
      [objectCalls, credentialReads] = [2, 1];
      // The object has no copy of the credential: D1 has the truth, and the object keeps it.
      const credentials = await db.findCredentials(shards, user.user, user.previous);
      if (!credentials || !sameHash(credentials.tokenHash, tokenHash)) return outcome(Result.AUTHENTICATION_INVALID);
      verdict = await buckets.sync({ ...syncRequest, learned: credentials }, now);
    }
  } catch (error) {
    // The object (or D1, for a credential) could not be reached, so nothing was charged: the client may simply retry.
    console.error(`bucket charge failed: ${(error as Error).message}`);
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
  const authenticated = performance.now();
  if (verdict.auth !== "ok") return outcome(Result.AUTHENTICATION_INVALID);
  const charged: ChargeResult | null = verdict.charged;
  if (charged && "blocked" in charged) return outcome(Result.AUTHENTICATION_INVALID);
  // The order of the steps and what each outcome leads to: src/core/discovery-steps.ts. The
  // object charged nothing for what beforeCharge() refuses or answers empty.
  const screened = beforeCharge(ids.length, config.maxContacts);
  if (screened.step === "refuse") return refused(screened);
  if (screened.step === "answer-empty" || !charged) return outcome(Result.SUCCESS);
  let next = afterCharge(charged);
  if (next.step === "refuse") {
    forget(key, kind);
    observeRefusal(env, config, now, waitUntil);
    // Over a quarantined or probation limit, no wait helps: a smaller request or an operator's clear may.
    return refused(next);
  }
  trust(key, kind, now);

  if (next.step === "admit") {
    objectCalls += admissionKeys(config, origin).length; // the guard objects of its network and ASN
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
    ({ answer, at: answeredAt } = looked ?? (await look()));
  } catch (error) {
    // The client paid for an answer it did not get: give the charge back and ask it to retry.
    console.error(`discovery lookup failed: ${(error as Error).message}`);
    await buckets.refund(kind, ids.length, now).catch((e: Error) => console.error(`refund failed: ${e.message}`));
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
  // For operators (Server-Timing): where the time of an answered sync went, inside the Worker.
  // `charge` is the client object's call (authentication included, and the observation when the
  // answer was looked up first); the lookup counts from the start.
  answer.timings = { charge: authenticated - started, lookup: answeredAt - started, ...answer.timings };
  const lookupCosts = answer.costs ?? { d1Calls: 0, d1Rows: 0, objectCalls: 0 };
  // The observation is a second call to the client's object unless the charge's call made it.
  objectCalls += lookupCosts.objectCalls + (verdict.observed ? 0 : 1);
  answer.costs = { d1Calls: lookupCosts.d1Calls + credentialReads, d1Rows: lookupCosts.d1Rows, objectCalls };
  const matches = matchesOf(answer);
  // Egress control counts what clients not yet established (judged, and no longer young) were
  // shown: over the whole service always, per network with the guard on.
  const unjudgedFrom = next.charged.established ? null : config.guard ? networkKeys(origin) : [];
  const teaches = next.charged.fresh && !egressEpisode();
  const revealed = Math.min(matches, config.detection.probationLimit);
  const sync = { user: req.user, bucketEpoch: epoch, kind, identifiers: ids, matches, edge: next.charged.edge, flagged: next.charged.flagged, teaches, revealed, unjudgedFrom };
  if (verdict.observed) tallyObserved(env, shards, config, sync, verdict.observed, now, waitUntil);
  else inBackground(waitUntil, () => observeSync(env, shards, config, sync, now, waitUntil));
  return answer;
}

const matchesOf = (answer: Outcome) => (answer.added?.length ?? 0) + (answer.removed?.length ?? 0);

/** A refusal for the budget or by the network, with its Retry-After when waiting helps. */
const refused = ({ retryAfterSeconds }: { retryAfterSeconds: number | null }): Outcome =>
  outcome(Result.RATE_LIMIT_EXCEEDED, retryAfterSeconds === null ? {} : { retryAfterSeconds });

/** Clients this isolate authenticated and charged lately, by kind: until when a lookup may run alongside the charge. */
const trustedUntil = new Map<string, number>();
const TRUST_MS = 10 * 60_000;
const TRUST_ENTRIES = 10_000;

function isTrusted(key: string, kind: BucketKind, now: number): boolean {
  const until = trustedUntil.get(`${kind}:${key}`);
  return until !== undefined && until > now;
}

function trust(key: string, kind: BucketKind, now: number): void {
  if (trustedUntil.size >= TRUST_ENTRIES) trustedUntil.clear(); // bounded; forgetting only costs a little latency
  trustedUntil.set(`${kind}:${key}`, now + TRUST_MS);
}

const forget = (key: string, kind: BucketKind) => trustedUntil.delete(`${kind}:${key}`);

/**
 * The answer of a sync: S1 for a full one, S2 since `since` for an incremental one. An incremental
 * one asks D1 only about the identifiers the S2 index cannot rule out, and nothing if it rules out all.
 */
async function answerLookup(
  env: Env,
  shards: Shards,
  config: Config,
  epoch: number,
  kind: BucketKind,
  ids: Uint8Array[],
  stored: Stored,
  since: number,
  context: { now: number; waitUntil: (p: Promise<unknown>) => void },
): Promise<Outcome> {
  if (kind === "full") {
    const { rows, sqlMs, d1Ms, calls, rowsRead } = await db.findRegistered(shards, stored.ids, stored.previous);
    return outcome(Result.SUCCESS, { added: rows.map((r) => ids[r.i]!), sqlMs, timings: { d1: d1Ms }, costs: { d1Calls: calls, d1Rows: rowsRead, objectCalls: 0 } });
  }
  const filtered = performance.now();
  const { positions: candidates, calls: indexCalls } = await s2Candidates(env, shards, config, epoch, stored.ids, since, context, stored.previous);
  const index = performance.now() - filtered;
  if (candidates.length === 0) return outcome(Result.SUCCESS, { timings: { s2index: index }, costs: { d1Calls: 0, d1Rows: 0, objectCalls: indexCalls } });
  const pick = (list: Uint8Array[]) => (candidates.length === ids.length ? list : candidates.map((i) => list[i]!));
  const asked = pick(ids);
  const { rows, sqlMs, d1Ms, calls, rowsRead } = await db.findChanges(shards, pick(stored.ids), since, stored.previous && pick(stored.previous));
  return outcome(Result.SUCCESS, {
    added: rows.filter((r) => r.registered === 1).map((r) => asked[r.i]!),
    removed: rows.filter((r) => r.registered === 0).map((r) => asked[r.i]!),
    sqlMs,
    timings: { s2index: index, d1: d1Ms },
    costs: { d1Calls: calls, d1Rows: rowsRead, objectCalls: indexCalls },
  });
}
