// Full and incremental discovery: each step of src/core/discovery-steps.ts answered by one phase over
// the sync's context. A sync is one call to the client's object (authenticate and charge) plus the
// lookup; a client charged lately here is looked up first, so the charge and the observation are one
// call and one write; anyone else is served in strict order. No sync calls a shared object.

import type { BucketKind } from "../core/bucket";
import { type Config, ConfigError } from "../core/config";
import type { Admission } from "../core/admission";
import type { ChargeDecision } from "../core/charge-policy";
import { type Authentication, type Charged, type DiscoveryEnd, type DiscoveryPorts, runDiscovery } from "../core/discovery-steps";
import { probationDuring } from "../core/egress";
import { toHex } from "../core/hex";
import { sketchOf } from "../core/hyperloglog";
import { hashToken, sameHash } from "../core/token";
import { type Outcome, type ParsedRequest, Result, outcome } from "../core/wire";
import type { Shards } from "../db/shards";
import * as db from "../db/users";
import { type ClientBuckets, type Observed, type SyncRequest, bucketsOf } from "../objects/client-buckets";
import { bucketEpoch } from "./accounts";
import { type Origin, admissionKeys, admitNewClient, networkKeys } from "./admission";
import type { Isolate, TrustedClients } from "./isolate";
import { type ObservationContext, inBackground, observeRefusal, observeSync, tallyObserved } from "./observation";
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
  const lookUpFirst = sync.trusted.has(kind, sync.client, sync.now);
  const end = await runDiscovery(phasesOf(sync), { n: req.identifiers.length, maxContacts: config.maxContacts, lookUpFirst });
  return answerOf(sync, end);
}

interface Sync extends ObservationContext {
  kind: BucketKind;
  req: ParsedRequest;
  origin: Origin;
  trusted: TrustedClients;
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
  return { env, shards, config, kind, req, now, waitUntil, origin, trusted: isolate.trusted, monitoring: isolate.monitoring, tokenHash, epoch, buckets, client: `${epoch}:${toHex(user.user)}`, user, stored, meter };
}

const phasesOf = (sync: Sync): DiscoveryPorts<Outcome, void> => ({
  lookUp: () => lookUp(sync),
  // The object screens the request with the same beforeCharge() and charges only what fits.
  charge: (_fits, early) => authenticateAndCharge(sync, early?.answer),
  admit: () => admit(sync),
  refund: () => refund(sync),
  observe: (charged, answer) => observe(sync, charged, answer),
});

/** A second call, with the credential read from D1, only when the object does not know it. A block answers as a bad credential. */
async function authenticateAndCharge(sync: Sync, early: Outcome | undefined): Promise<Authentication> {
  const { env, config, monitoring, now, waitUntil, req, meter } = sync;
  const observation = early && { matches: matchesOf(early), sketch: sketchOf(req.identifiers), normHitRatio: monitoring.currentNorm(env, config, now, waitUntil) };
  // During an egress episode, clients not yet judged are held to a tighter probation limit.
  const probationLimit = probationDuring(config.egress, monitoring.egressEpisode());
  const request: SyncRequest = { kind: sync.kind, n: req.identifiers.length, maxContacts: config.maxContacts, tokenHash: sync.tokenHash, probationLimit, observation };
  meter.count({ objectCalls: 1 });
  let verdict = await sync.buckets.sync(request, now);
  if (verdict.auth === "unknown") {
    meter.count({ objectCalls: 1, d1Calls: 1 });
    const credentials = await db.findCredentials(sync.shards, sync.user.user, sync.user.previous);
    if (!credentials || !sameHash(credentials.tokenHash, sync.tokenHash)) return { authenticated: false };
    verdict = await sync.buckets.sync({ ...request, learned: credentials }, now);
  }
  meter.stamp("charge");
  if (verdict.auth !== "ok" || (verdict.charged && "blocked" in verdict.charged)) return { authenticated: false };
  sync.observed = verdict.observed;
  if (verdict.charged) learnFromCharge(sync, verdict.charged);
  return { authenticated: true, charged: verdict.charged };
}

/** One refused is served in strict order again. */
function learnFromCharge(sync: Sync, charged: ChargeDecision): void {
  if (charged.ok) return sync.trusted.trust(sync.kind, sync.client, sync.now);
  sync.trusted.forget(sync.kind, sync.client);
  observeRefusal(sync);
}

/** Against its network's (and ASN's) daily allowance of new clients. */
async function admit(sync: Sync): Promise<Admission> {
  sync.meter.count({ objectCalls: admissionKeys(sync.config, sync.origin).length });
  return admitNewClient(sync.env, sync.origin, sync.now).catch((error: Error) => {
    console.error(`network admission failed: ${error.message}`);
    return { ok: true } as const; // the guard failing open costs less than every new client refused
  });
}

async function refund(sync: Sync): Promise<void> {
  await sync.buckets.refund(sync.kind, sync.req.identifiers.length, sync.now).catch((e: Error) => console.error(`refund failed: ${e.message}`));
}

async function lookUp(sync: Sync): Promise<Outcome> {
  const answer = await answerLookup(sync);
  sync.meter.stamp("lookup");
  return answer;
}

/** The client's signals unless the charge's call recorded them already. */
function observe(sync: Sync, charged: Charged, answer: Outcome): void {
  const { config, monitoring } = sync;
  const matches = matchesOf(answer);
  // Egress control counts what clients not yet established (judged, and no longer young) were
  // shown: over the whole service always, per network with the guard on.
  const unjudgedFrom = charged.established ? null : config.guard ? networkKeys(sync.origin) : [];
  const teaches = charged.fresh && !monitoring.egressEpisode();
  const revealed = Math.min(matches, config.detection.probationLimit);
  const answered = { user: sync.req.user, bucketEpoch: sync.epoch, kind: sync.kind, identifiers: sync.req.identifiers, matches, edge: charged.edge, flagged: charged.flagged, teaches, revealed, unjudgedFrom };
  if (sync.observed) return tallyObserved(sync, answered, sync.observed);
  sync.meter.count({ objectCalls: 1 }); // the observation is a second call to the client's object
  inBackground(sync.waitUntil, () => observeSync(sync, answered));
}

function answerOf(sync: Sync, end: DiscoveryEnd<Outcome, void>): Outcome {
  switch (end.end) {
    case "answered":
      return sync.meter.report(end.answer);
    case "answer-empty":
      return outcome(Result.SUCCESS);
    case "unauthenticated":
      return outcome(Result.AUTHENTICATION_INVALID);
    case "refused":
      // Over a quarantined or probation limit, no wait helps: a smaller request or an operator's clear may.
      return outcome(Result.RATE_LIMIT_EXCEEDED, end.retryAfterSeconds === null ? {} : { retryAfterSeconds: end.retryAfterSeconds });
    case "unavailable":
      console.error(`${end.failed === "charge" ? "bucket charge" : "discovery lookup"} failed: ${(end.error as Error).message}`);
      return retryInASecond();
  }
}

/** Nothing stays charged: the client may simply retry. */
const retryInASecond = (): Outcome => outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });

const matchesOf = (answer: Outcome) => (answer.added?.length ?? 0) + (answer.removed?.length ?? 0);

/** Where an answered sync's calls and time went; report() writes it once, for ICD-Costs and Server-Timing. */
class Meter {
  private readonly started = performance.now();
  /** `charge` includes authentication (and the observation when looked up first); `lookup` counts from the start. */
  private readonly at = { charge: 0, lookup: 0 };
  private readonly calls = { objectCalls: 0, d1Calls: 0 };

  count({ objectCalls = 0, d1Calls = 0 }: { objectCalls?: number; d1Calls?: number }): void {
    this.calls.objectCalls += objectCalls;
    this.calls.d1Calls += d1Calls;
  }

  stamp(step: "charge" | "lookup"): void {
    this.at[step] = performance.now() - this.started;
  }

  report(answer: Outcome): Outcome {
    answer.timings = { charge: this.at.charge, lookup: this.at.lookup, ...answer.timings };
    const spent = answer.costs ?? { d1Calls: 0, d1Rows: 0, objectCalls: 0 };
    answer.costs = { d1Calls: spent.d1Calls + this.calls.d1Calls, d1Rows: spent.d1Rows, objectCalls: spent.objectCalls + this.calls.objectCalls };
    return answer;
  }
}

/** An incremental sync asks D1 only about the identifiers the S2 index cannot rule out, and nothing if it rules out all. */
async function answerLookup({ env, shards, config, epoch, kind, req, stored, now, waitUntil }: Sync): Promise<Outcome> {
  const ids = req.identifiers;
  if (kind === "full") {
    const { rows, sqlMs, d1Ms, calls, rowsRead } = await db.findRegistered(shards, stored.ids, stored.previous);
    return outcome(Result.SUCCESS, { added: rows.map((r) => ids[r.i]!), sqlMs, timings: { d1: d1Ms }, costs: { d1Calls: calls, d1Rows: rowsRead, objectCalls: 0 } });
  }
  const since = now - config.s2DeltaMs;
  const filtered = performance.now();
  const { positions: candidates, calls: indexCalls } = await s2Candidates(env, shards, config, epoch, stored.ids, since, { now, waitUntil }, stored.previous);
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
