// Full and incremental discovery, in the order of protocol.md: authenticate, refuse what can never
// fit, charge the bucket (all or nothing), then look up. Results keep request order.

import { authenticate } from "./accounts";
import type { BucketKind } from "./bucket";
import { type ChargeResult, bucketsOf } from "./client-buckets";
import type { Config } from "./config";
import * as db from "./db";
import { type Outcome, type ParsedRequest, Result, outcome } from "./wire";

export async function discover(
  env: Env,
  shards: db.Shards,
  config: Config,
  kind: BucketKind,
  req: ParsedRequest,
  now: number,
): Promise<Outcome> {
  const account = await authenticate(shards, req.user, req.authToken);
  if (!account) return outcome(Result.AUTHENTICATION_INVALID);

  const ids = req.identifiers;
  // More than a full bucket can never fit: no Retry-After, nothing charged.
  if (ids.length > config.maxContacts) return outcome(Result.RATE_LIMIT_EXCEEDED);
  if (ids.length === 0) return outcome(Result.SUCCESS);

  const buckets = bucketsOf(env, req.user, account.bucketEpoch);
  let charged: ChargeResult;
  try {
    charged = await buckets.charge(kind, ids.length);
  } catch (error) {
    // The bucket could not be reached, so nothing was charged: the client may simply retry.
    console.error(`bucket charge failed: ${(error as Error).message}`);
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
  if (!charged.ok && "blocked" in charged) return outcome(Result.AUTHENTICATION_INVALID);
  if (!charged.ok) return outcome(Result.RATE_LIMIT_EXCEEDED, { retryAfterSeconds: charged.retryAfterSeconds });

  try {
    return await lookUp(shards, kind, ids, now - config.s2DeltaMs);
  } catch (error) {
    // The client paid for an answer it did not get: give the charge back and ask it to retry.
    console.error(`discovery lookup failed: ${(error as Error).message}`);
    await buckets.refund(kind, ids.length).catch((e: Error) => console.error(`refund failed: ${e.message}`));
    return outcome(Result.RATE_LIMIT_EXCEEDED, { status: 503, retryAfterSeconds: 1 });
  }
}

async function lookUp(shards: db.Shards, kind: BucketKind, ids: Uint8Array[], since: number): Promise<Outcome> {
  if (kind === "full") {
    const { rows, sqlMs } = await db.findRegistered(shards, ids);
    return outcome(Result.SUCCESS, { added: rows.map((r) => ids[r.i]!), sqlMs });
  }
  const { rows, sqlMs } = await db.findChanges(shards, ids, since);
  return outcome(Result.SUCCESS, {
    added: rows.filter((r) => r.registered === 1).map((r) => ids[r.i]!),
    removed: rows.filter((r) => r.registered === 0).map((r) => ids[r.i]!),
    sqlMs,
  });
}
