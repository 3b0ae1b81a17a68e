// What happens after a sync is answered, off the client's latency (ctx.waitUntil): the isolate's
// tally counts it (no call), the client's object adds it to its signals and runs the rules with the
// norm this isolate knows, and a new flag is listed, audited and alerted on. Nothing here waits on
// a shared object before the client's own rules have run: if the monitoring is down, the client is
// still judged, flagged and quarantined.

import type { BucketKind } from "../core/bucket";
import type { Config } from "../core/config";
import type { Flag } from "../core/flag-rules";
import { toHex } from "../core/hex";
import type { NormSample } from "../core/hit-ratio-norm";
import { sketchOf } from "../core/hyperloglog";
import { keyedHash } from "../core/token";
import { writeAudit } from "../db/audit";
import type { Shards } from "../db/shards";
import { type Observed, bucketsOf } from "../objects/client-buckets";
import { keyingOf, storedUser } from "./pseudonyms";
import { announceFlag, currentNorm, noteRefusal, noteSync } from "./monitoring";

export interface AnsweredSync {
  user: Uint8Array;
  bucketEpoch: number;
  kind: BucketKind;
  identifiers: Uint8Array[];
  matches: number;
  /** From the charge: whether it filled the bucket to its edge, and whether the client was flagged. */
  edge: boolean;
  flagged: boolean;
  /** Whether it may teach the norm: the client's first full sync, outside an egress episode. */
  teaches: boolean;
  /** What it counts for egress control, if the client is not established (at most DETECT_PROBATION_LIMIT). */
  revealed: number;
  /** For a client not established, the network keys its reveals count for (none with the guard off); null for an established one. */
  unjudgedFrom: readonly string[] | null;
}

type WaitUntil = (p: Promise<unknown>) => void;

export async function observeSync(env: Env, shards: Shards, config: Config, sync: AnsweredSync, now: number, waitUntil: WaitUntil): Promise<void> {
  const n = sync.identifiers.length;
  const sample = noteSync(env, config, { kind: sync.kind, identifiers: n, matches: sync.matches, flagged: sync.flagged, teaches: sync.teaches, revealed: sync.revealed }, now, waitUntil, sync.unjudgedFrom);
  const normHitRatio = currentNorm(env, config, now, waitUntil);
  const buckets = bucketsOf(env, await storedId(env, shards, sync.user), sync.bucketEpoch);
  const answered = { kind: sync.kind, identifiers: n, matches: sync.matches, edge: sync.edge };
  const { newFlag, samples } = await buckets.observe(answered, sketchOf(sync.identifiers), sample, normHitRatio, now);
  if (newFlag) await announce(env, shards, config, sync.user, newFlag, samples);
}

/**
 * A sync the client's object observed in the charge's call (its answer was looked up first): the
 * isolate's tally counts it, and a new flag is listed, audited and alerted on, after the answer.
 */
export function tallyObserved(env: Env, shards: Shards, config: Config, sync: AnsweredSync, observed: Observed, now: number, waitUntil: WaitUntil): void {
  noteSync(env, config, { kind: sync.kind, identifiers: sync.identifiers.length, matches: sync.matches, flagged: sync.flagged, teaches: sync.teaches, revealed: sync.revealed }, now, waitUntil, sync.unjudgedFrom);
  const flag = observed.newFlag;
  if (flag) inBackground(waitUntil, () => announce(env, shards, config, sync.user, flag, observed.samples));
}

/** The flag is already in force in the client's object; the list, the audit and the alert follow, each on its own. */
async function announce(env: Env, shards: Shards, config: Config, user: Uint8Array, flag: Flag, samples: NormSample[]) {
  const subject = await subjectOf(config, user);
  // The flagged list names the client by its pseudonym, "~<hex>" (the admin routes take it as an identifier).
  const stored = await storedId(env, shards, user);
  const results = await Promise.allSettled([
    announceFlag(env, config, { id: `~${toHex(stored)}`, subject, flaggedAt: flag.at, reasons: flag.reasons, samples }, flag.at),
    writeAudit(shards, flag.at, "flag", subject, { reasons: flag.reasons.map((r) => ({ rule: r.rule, message: r.message })) }),
  ]);
  for (const r of results) if (r.status === "rejected") console.error(`flag announcement failed: ${(r.reason as Error).message}`);
}

/** The HMAC key of identifiers in the audit log and alerts: AUDIT_KEY, or ADMIN_TOKEN where it is still the legacy credential (locally). */
const subjectKey = (config: Config) => config.auditKey ?? (config.legacyAdminToken ? config.adminToken : undefined);

/** Identifiers in the audit log and in alerts are keyed hashes; without a key none is written. */
export function subjectOf(config: Config, id: Uint8Array): Promise<string | null> {
  const key = subjectKey(config);
  return key ? keyedHash(key, id) : Promise.resolve(null);
}

export function observeRefusal(env: Env, config: Config, now: number, waitUntil: WaitUntil): void {
  noteRefusal(env, config, now, waitUntil);
}

/** Runs work after the response without letting its failure reach the client. */
export function inBackground(waitUntil: WaitUntil, work: () => Promise<void>): void {
  waitUntil(work().catch((error: Error) => console.error(`observation failed: ${error.message}`)));
}

/** A user's stored value (their pseudonym): what their object is named by. */
async function storedId(env: Env, shards: Shards, user: Uint8Array): Promise<Uint8Array> {
  return storedUser(await keyingOf(env, shards), user).user;
}
