// Full and incremental discovery: each step of src/core/discovery-steps.ts answered by one phase over
// the sync's context. A sync is its lookup and then one call to the client's object, which
// authenticates, admits a first sync, charges and records what the answer showed, in one row written;
// a client this isolate refused lately is served in strict order instead. No sync calls a shared object.

import type { BucketKind } from "../core/bucket";
import { type Config, ConfigError } from "../core/config";
import type { ChargeDecision } from "../core/charge-policy";
import { type Authentication, type Charged, type DiscoveryEnd, type DiscoveryPorts, runDiscovery } from "../core/discovery-steps";
import { probationDuring } from "../core/egress";
import { toHex } from "../core/hex";
import { sketchOf } from "../core/hyperloglog";
import { hashToken, sameHash } from "../core/token";
import { type Outcome, type ParsedRequest, Result, type SyncCosts, addCosts, noCosts, outcome } from "../core/wire";
import type { Found, Shards } from "../db/shards";
import * as db from "../db/users";
import { type ClientBuckets, type Observed, type SyncRequest, type SyncVerdict, bucketsOf } from "../objects/client-buckets";
import { bucketEpoch } from "./accounts";
import { type Origin, admissionKeys, alertOnAdmission, networkKeys } from "./admission";
import type { Isolate } from "./isolate";
import { type ObservationContext, announceObserved, inBackground, observeRefusal, observeSync, tallyObserved } from "./observation";
import { s2Candidates } from "./s2-filter";
import { type Stored, type StoredUser, storedRequest } from "./pseudonyms";

export interface DiscoveryOptions {
  now: number;
  waitUntil: (p: Promise<unknown>) => void;
  origin: Origin;
  isolate: Isolate;
}

export async function discover(env: Env, shards: Shards, config: Config, kind: BucketKind, req: ParsedRequest, options: DiscoveryOptions): Promise<Outcome> {
  const sync = await open(env, shards, config, kind, req, options);
  if (!sync) return retryInASecond();
  const lookUpFirst = !sync.isolate.strict.has(sync.client, sync.now);
  const end = await runDiscovery(phasesOf(sync), { n: req.identifiers.length, maxContacts: config.maxContacts, lookUpFirst });
  return answerOf(sync, end);
}

interface Sync extends ObservationContext {
  kind: BucketKind;
  req: ParsedRequest;
  origin: Origin;
  isolate: Isolate;
  tokenHash: Uint8Array;
  epoch: number;
  buckets: DurableObjectStub<ClientBuckets>;
  client: string;
  /** The client's object and credential are stored by its pseudonym. */
  user: StoredUser;
  /** By request position: what the lookup asks for. */
  stored: Stored;
  meter: Meter;
  /** When the answer was looked up before the charge. */
  observed?: Observed | undefined;
  /** Refused by the novelty limit: the new identifiers that fit now. */
  noveltyRoom?: number | undefined;
}

/** Null if the bucket epoch cannot be read (nothing was charged: the client retries). */
async function open(env: Env, shards: Shards, config: Config, kind: BucketKind, req: ParsedRequest, options: DiscoveryOptions): Promise<Sync | null> {
  const { now, waitUntil, origin, isolate } = options;
  const meter = new Meter();
  const tokenHash = await hashToken(req.authToken);
  let epoch: number;
  let user: StoredUser;
  let stored: Stored;
  try {
    epoch = await bucketEpoch(shards, config);
    ({ user, stored } = await storedRequest(env, shards, req.user, req.identifiers));
  } catch (error) {
    if (error instanceof ConfigError) throw error; // a bad PSEUDONYM_KEYS: the service refuses to serve
    console.error(`bucket epoch or key state unreadable: ${(error as Error).message}`);
    return null;
  }
  const buckets = bucketsOf(env, user.user, epoch);
  return { env, shards, config, kind, req, now, waitUntil, origin, isolate, monitoring: isolate.monitoring, tokenHash, epoch, buckets, client: `${epoch}:${toHex(user.user)}`, user, stored, meter };
}

const phasesOf = (sync: Sync): DiscoveryPorts<Outcome, void> => ({
  lookUp: () => lookUp(sync),
  // The object screens the request with the same beforeCharge() and charges only what fits.
  charge: (_fits, early) => authenticateAndCharge(sync, early?.answer),
  refund: () => refund(sync),
  observe: (charged, answer) => observe(sync, charged, answer),
});

/** A second call, with the credential read from D1, only when the object does not know it. A block answers as a bad credential. */
async function authenticateAndCharge(sync: Sync, early: Outcome | undefined): Promise<Authentication> {
  const { env, config, monitoring, now, waitUntil, req, meter } = sync;
  const episode = monitoring.egressEpisode();
  const observation = early && { matches: matchesOf(early), normHitRatio: monitoring.currentNorm(env, config, now, waitUntil), teaches: !episode };
  // The novelty limit counts the request's new identifiers with it; the observation adds it to the client's.
  const sketch = observation || config.detection.novelty ? sketchOf(req.identifiers) : undefined;
  // During an egress episode, clients not yet judged are held to a tighter probation limit.
  const probationLimit = probationDuring(config.egress, episode);
  const admission = admissionKeys(config, sync.origin);
  const request: SyncRequest = { kind: sync.kind, n: req.identifiers.length, maxContacts: config.maxContacts, tokenHash: sync.tokenHash, probationLimit, admission, sketch, observation };
  let verdict = await callClient(sync, request);
  if (verdict.auth === "unknown") {
    meter.add({ d1Calls: 1 });
    const credentials = await db.findCredentials(sync.shards, sync.user.user, sync.user.previous);
    if (!credentials || !sameHash(credentials.tokenHash, sync.tokenHash)) return unauthenticated(sync);
    verdict = await callClient(sync, { ...request, learned: credentials });
  }
  meter.stamp("charge");
  if (verdict.auth !== "ok" || (verdict.charged && "blocked" in verdict.charged)) return unauthenticated(sync);
  if (verdict.admission) inBackground(waitUntil, () => alertOnAdmission(env, config, admission, verdict.admission!, now));
  sync.observed = verdict.observed;
  if (verdict.charged) learnFromCharge(sync, verdict.charged);
  // A refusal that flags (the novelty limit's) is announced now: no answer follows it.
  if (verdict.observed?.newFlag && !verdict.charged?.ok) announceObserved(sync, sync.req.user, verdict.observed);
  return { authenticated: true, charged: verdict.charged };
}

async function callClient(sync: Sync, request: SyncRequest): Promise<SyncVerdict> {
  const began = performance.now();
  const verdict = await sync.buckets.sync(request, sync.now);
  sync.meter.busy(performance.now() - began);
  const guards = "admission" in verdict ? (verdict.admission?.length ?? 0) : 0;
  sync.meter.add({ objectCalls: 1 + guards, objectRowsRead: verdict.costs.rowsRead, objectRowsWritten: verdict.costs.rowsWritten, clientRowsWritten: verdict.costs.rowsWritten });
  return verdict;
}

function unauthenticated(sync: Sync): Authentication {
  sync.isolate.strict.note(sync.client, sync.now);
  return { authenticated: false };
}

/** One refused (either bucket) is served in strict order for a while. */
function learnFromCharge(sync: Sync, charged: ChargeDecision): void {
  if (charged.ok) return;
  sync.noveltyRoom = charged.noveltyRoom;
  sync.isolate.strict.note(sync.client, sync.now);
  observeRefusal(sync);
}

async function refund(sync: Sync): Promise<void> {
  sync.meter.add({ objectCalls: 1 });
  await sync.buckets.refund(sync.kind, sync.req.identifiers.length, sync.now).catch((e: Error) => console.error(`refund failed: ${e.message}`));
}

async function lookUp(sync: Sync): Promise<Outcome> {
  const answer = await answerLookup(sync);
  if (answer.costs) sync.meter.add(answer.costs);
  sync.meter.stamp("lookup");
  return answer;
}

/** The client's signals, unless the charge's call recorded them already: in strict order, a second call. */
async function observe(sync: Sync, charged: Charged, answer: Outcome): Promise<void> {
  const { config, monitoring } = sync;
  const matches = matchesOf(answer);
  // Egress control counts what clients not yet established (judged, and no longer young) were
  // shown: over the whole service always, per network with the guard on.
  const unjudgedFrom = charged.established ? null : config.guard ? networkKeys(sync.origin) : [];
  const teaches = charged.fresh && !monitoring.egressEpisode();
  const revealed = Math.min(matches, config.detection.probationLimit);
  const answered = { user: sync.req.user, bucketEpoch: sync.epoch, kind: sync.kind, identifiers: sync.req.identifiers, matches, edge: charged.edge, flagged: charged.flagged, teaches, revealed, unjudgedFrom };
  if (sync.observed) return tallyObserved(sync, answered, sync.observed);
  const costs = await observeSync(sync, answered).catch((error: Error) => {
    console.error(`observation failed: ${error.message}`);
    return null;
  });
  sync.meter.add({ objectCalls: 1, ...(costs && { objectRowsRead: costs.rowsRead, objectRowsWritten: costs.rowsWritten, clientRowsWritten: costs.rowsWritten }) });
}

function answerOf(sync: Sync, end: DiscoveryEnd<Outcome, void>): Outcome {
  switch (end.end) {
    case "answered":
      return sync.meter.report(end.answer);
    case "answer-empty":
      return sync.meter.report(outcome(Result.SUCCESS));
    case "unauthenticated":
      return sync.meter.report(outcome(Result.AUTHENTICATION_INVALID));
    case "refused":
      // Over a quarantined or probation limit, no wait helps: a smaller request or an operator's clear may.
      return sync.meter.report(
        outcome(Result.RATE_LIMIT_EXCEEDED, {
          ...(end.retryAfterSeconds !== null && { retryAfterSeconds: end.retryAfterSeconds }),
          ...(sync.noveltyRoom !== undefined && { noveltyRoom: sync.noveltyRoom }),
        }),
      );
    case "unavailable":
      console.error(`${end.failed === "charge" ? "bucket charge" : "discovery lookup"} failed: ${(end.error as Error).message}`);
      return retryInASecond();
  }
}

/** Nothing stays charged: the client may simply retry. */
const retryInASecond = (): Outcome => outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });

const matchesOf = (answer: Outcome) => (answer.added?.length ?? 0) + (answer.removed?.length ?? 0);

/** Where a sync's calls and time went; report() writes it once, for ICD-Costs and Server-Timing. */
class Meter {
  private readonly started = performance.now();
  /** `charge` includes authentication (and the observation when looked up first); `lookup` counts from the start. */
  private readonly at = { charge: 0, lookup: 0 };
  /** The client object's calls, end to end: what its duration is billed on (at most). */
  private objectMs = 0;
  private readonly costs = noCosts();

  busy(ms: number): void {
    this.objectMs += ms;
  }

  add(costs: Partial<SyncCosts>): void {
    addCosts(this.costs, costs);
  }

  stamp(step: "charge" | "lookup"): void {
    this.at[step] = performance.now() - this.started;
  }

  report(answer: Outcome): Outcome {
    const timings = Object.fromEntries(Object.entries({ ...this.at, object: this.objectMs }).filter(([, ms]) => ms > 0));
    answer.timings = { ...timings, ...answer.timings };
    answer.costs = this.costs;
    return answer;
  }
}

/** An incremental sync asks D1 only about the identifiers the S2 index cannot rule out, and nothing if it rules out all. */
async function answerLookup({ env, shards, config, epoch, kind, req, stored, now, waitUntil, isolate }: Sync): Promise<Outcome> {
  const ids = req.identifiers;
  if (kind === "full") {
    const found = await db.findRegistered(shards, stored.ids, stored.previous);
    return outcome(Result.SUCCESS, { added: found.rows.map((r) => ids[r.i]!), sqlMs: found.sqlMs, timings: { d1: found.d1Ms }, costs: d1Costs(found) });
  }
  const since = now - config.s2DeltaMs;
  const filtered = performance.now();
  const index = await s2Candidates(env, shards, config, epoch, stored.ids, since, { now, waitUntil, unbuilt: isolate.unbuiltParts }, stored.previous);
  const indexMs = performance.now() - filtered;
  const indexCosts = { objectCalls: index.calls, objectRowsRead: index.rowsRead, objectRowsWritten: index.rowsWritten };
  const candidates = index.positions;
  if (candidates.length === 0) return outcome(Result.SUCCESS, { timings: { s2index: indexMs }, costs: addCosts(noCosts(), indexCosts) });
  const pick = (list: Uint8Array[]) => (candidates.length === ids.length ? list : candidates.map((i) => list[i]!));
  const asked = pick(ids);
  const found = await db.findChanges(shards, pick(stored.ids), since, stored.previous && pick(stored.previous));
  return outcome(Result.SUCCESS, {
    added: found.rows.filter((r) => r.registered === 1).map((r) => asked[r.i]!),
    removed: found.rows.filter((r) => r.registered === 0).map((r) => asked[r.i]!),
    sqlMs: found.sqlMs,
    timings: { s2index: indexMs, d1: found.d1Ms },
    costs: addCosts(d1Costs(found), indexCosts),
  });
}

const d1Costs = (found: Found<unknown>): SyncCosts => addCosts(noCosts(), { d1Calls: found.calls, d1RowsRead: found.rowsRead, d1RowsWritten: found.rowsWritten });
