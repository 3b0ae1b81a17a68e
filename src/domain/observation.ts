// What happens after a sync is answered (ctx.waitUntil): the isolate's tally, the client's signals and
// rules, a new flag listed, audited and alerted on; a client's rules never wait on a shared object.

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
import type { StorageTally } from "../objects/client-record";
import { keyingOf, storedUser } from "./pseudonyms";
import { type IsolateMonitoring, announceFlag } from "./monitoring";

export interface AnsweredSync {
  user: Uint8Array;
  bucketEpoch: number;
  kind: BucketKind;
  identifiers: Uint8Array[];
  matches: number;
  edge: boolean;
  flagged: boolean;
  teaches: boolean;
  revealed: number;
  /** Null for an established client, whose reveals count for no network. */
  unjudgedFrom: readonly string[] | null;
}

type WaitUntil = (p: Promise<unknown>) => void;

export interface ObservationContext {
  env: Env;
  shards: Shards;
  config: Config;
  monitoring: IsolateMonitoring;
  now: number;
  waitUntil: WaitUntil;
}

/** A second call to the client's object; what its storage read and wrote comes back. */
export async function observeSync(at: ObservationContext, sync: AnsweredSync): Promise<StorageTally> {
  const { env, shards, config, monitoring, now, waitUntil } = at;
  const n = sync.identifiers.length;
  const sample = monitoring.noteSync(env, config, { kind: sync.kind, identifiers: n, matches: sync.matches, flagged: sync.flagged, teaches: sync.teaches, revealed: sync.revealed }, now, waitUntil, sync.unjudgedFrom);
  const normHitRatio = monitoring.currentNorm(env, config, now, waitUntil);
  const buckets = bucketsOf(env, await storedId(env, shards, sync.user), sync.bucketEpoch);
  const answered = { kind: sync.kind, identifiers: n, matches: sync.matches, edge: sync.edge };
  const { newFlag, samples, costs } = await buckets.observe(answered, sketchOf(sync.identifiers), sample, normHitRatio, now);
  if (newFlag) inBackground(waitUntil, () => announce(at, sync.user, newFlag, samples));
  return costs;
}

/** A sync the client's object already observed in the charge's call (its answer was looked up first). */
export function tallyObserved(at: ObservationContext, sync: AnsweredSync, observed: Observed): void {
  const { env, config, monitoring, now, waitUntil } = at;
  monitoring.noteSync(env, config, { kind: sync.kind, identifiers: sync.identifiers.length, matches: sync.matches, flagged: sync.flagged, teaches: sync.teaches, revealed: sync.revealed }, now, waitUntil, sync.unjudgedFrom);
  announceObserved(at, sync.user, observed);
}

/** A flag the client's object raised while refusing a charge (the novelty limit's). */
export function announceObserved(at: ObservationContext, user: Uint8Array, observed: Observed): void {
  const flag = observed.newFlag;
  if (flag) inBackground(at.waitUntil, () => announce(at, user, flag, observed.samples));
}

async function announce({ env, shards, config, monitoring }: ObservationContext, user: Uint8Array, flag: Flag, samples: NormSample[]) {
  const subject = await subjectOf(config, user);
  // The flagged list names the client by its pseudonym, "~<hex>" (the admin routes take it as an identifier).
  const stored = await storedId(env, shards, user);
  const results = await Promise.allSettled([
    announceFlag(env, config, monitoring, { id: `~${toHex(stored)}`, subject, flaggedAt: flag.at, reasons: flag.reasons, samples }, flag.at),
    writeAudit(shards, flag.at, "flag", subject, { reasons: flag.reasons.map((r) => ({ rule: r.rule, message: r.message })) }),
  ]);
  for (const r of results) if (r.status === "rejected") console.error(`flag announcement failed: ${(r.reason as Error).message}`);
}

/** ADMIN_TOKEN only where it is still the legacy credential (locally). */
const subjectKey = (config: Config) => config.auditKey ?? (config.legacyAdminToken ? config.adminToken : undefined);

/** Without a key no subject is written. */
export function subjectOf(config: Config, id: Uint8Array): Promise<string | null> {
  const key = subjectKey(config);
  return key ? keyedHash(key, id) : Promise.resolve(null);
}

export function observeRefusal({ env, config, monitoring, now, waitUntil }: ObservationContext): void {
  monitoring.noteRefusal(env, config, now, waitUntil);
}

export function inBackground(waitUntil: WaitUntil, work: () => Promise<void>): void {
  waitUntil(work().catch((error: Error) => console.error(`observation failed: ${error.message}`)));
}

/** A user's stored value (their pseudonym): what their object is named by. */
async function storedId(env: Env, shards: Shards, user: Uint8Array): Promise<Uint8Array> {
  return storedUser(await keyingOf(env, shards), user).user;
}
