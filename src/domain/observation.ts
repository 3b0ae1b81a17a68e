// What happens after a sync is answered, off the client's latency (ctx.waitUntil): the monitor
// counts it and learns the norm from it, the client's object adds it to its signals and runs the
// rules, and a new flag is listed, audited and alerted on.

import type { BucketKind } from "../core/bucket";
import { bucketsOf } from "../objects/client-buckets";
import type { Config } from "../core/config";
import { writeAudit } from "../db/audit";
import * as db from "../db/users";
import type { Shards } from "../db/shards";
import type { Flag } from "../core/detection";
import { toHex } from "../core/hex";
import type { NormSample } from "../core/hit-ratio-norm";
import { sketchOf } from "../core/hyperloglog";
import { monitorOf } from "../objects/monitor";
import { keyedHash } from "../core/token";

export interface AnsweredSync {
  user: Uint8Array;
  bucketEpoch: number;
  kind: BucketKind;
  identifiers: Uint8Array[];
  matches: number;
  /** From the charge: whether it filled the bucket to its edge, and whether the client was flagged. */
  edge: boolean;
  flagged: boolean;
}

export async function observeSync(env: Env, shards: Shards, config: Config, sync: AnsweredSync, now: number): Promise<void> {
  const monitor = monitorOf(env);
  const n = sync.identifiers.length;
  const { norm, sample } = await monitor.recordSync({ kind: sync.kind, identifiers: n, matches: sync.matches, flagged: sync.flagged }, now);
  const buckets = bucketsOf(env, sync.user, sync.bucketEpoch);
  const answered = { kind: sync.kind, identifiers: n, matches: sync.matches, edge: sync.edge };
  const { newFlag, samples } = await buckets.observe(answered, sketchOf(sync.identifiers), sample, norm.hitRatio, now);
  if (newFlag) await announceFlag(env, shards, config, sync.user, newFlag, samples);
}

async function announceFlag(env: Env, shards: Shards, config: Config, user: Uint8Array, flag: Flag, samples: NormSample[]) {
  const subject = await subjectOf(config, user);
  await Promise.all([
    monitorOf(env).flag({ id: toHex(user), subject, flaggedAt: flag.at, reasons: flag.reasons, samples }, flag.at),
    writeAudit(shards, flag.at, "flag", subject, { reasons: flag.reasons.map((r) => ({ rule: r.rule, message: r.message })) }),
  ]);
}

/** The HMAC key of identifiers in the audit log and alerts: AUDIT_KEY, or ADMIN_TOKEN where it is still the legacy credential (locally). */
const subjectKey = (config: Config) => config.auditKey ?? (config.legacyAdminToken ? config.adminToken : undefined);

/** Identifiers in the audit log and in alerts are keyed hashes; without a key none is written. */
export function subjectOf(config: Config, id: Uint8Array): Promise<string | null> {
  const key = subjectKey(config);
  return key ? keyedHash(key, id) : Promise.resolve(null);
}

export async function observeRefusal(env: Env, now: number): Promise<void> {
  await monitorOf(env).recordRefusal(now);
}

/** Runs work after the response without letting its failure reach the client. */
export function inBackground(waitUntil: (p: Promise<unknown>) => void, work: () => Promise<void>): void {
  waitUntil(work().catch((error: Error) => console.error(`observation failed: ${error.message}`)));
}
