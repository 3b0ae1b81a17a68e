// Registration, deletion and authentication of users (docs/protocol.md, "Registration"; docs/design.md).
// A deletion revokes the client object's credential copy *before* D1 forgets the user. Each function
// takes the identifier and turns it into the stored pseudonym first (domain/pseudonyms.ts).

import type { AuditActor } from "../db/audit";
import { recordChange } from "./audit";
import { sameHash, hashToken } from "../core/token";
import { type Outcome, type ParsedRequest, Result, outcome } from "../core/wire";
import type { Config } from "../core/config";
import type { Shards } from "../db/shards";
import * as db from "../db/users";
import { findBucketEpoch, resetDirectory } from "../db/test-hooks";
import { type ClientBuckets, bucketsOf } from "../objects/client-buckets";
import { noteChanges } from "./s2-filter";
import { keyingOf, settle, storedOf, storedUser } from "./pseudonyms";

/** While a rotation lasts, the user's old row is moved forward first. */
async function settled(env: Env, shards: Shards, user: Uint8Array): Promise<Uint8Array> {
  const keying = await keyingOf(env, shards);
  const { user: stored, previous } = storedUser(keying, user);
  await settle(shards, keying, [stored], previous && [previous]);
  return stored;
}

/**
 * 0 in production. The local /reset hook bumps it in D1 to forget every bucket object at once; read
 * once per isolate, so a sync never reads it. Locally the service is one isolate: never stale.
 */
let epoch: number | undefined;

export async function bucketEpoch(shards: Shards, config: Config): Promise<number> {
  if (!config.testHooks) return 0;
  epoch ??= await findBucketEpoch(shards);
  return epoch;
}

export async function resetAccounts(shards: Shards): Promise<void> {
  await resetDirectory(shards);
  epoch = await findBucketEpoch(shards);
}

export async function clientOf(env: Env, shards: Shards, config: Config, user: Uint8Array): Promise<DurableObjectStub<ClientBuckets>> {
  return bucketsOf(env, user, await bucketEpoch(shards, config));
}

/** With a different token it is refused, so nobody can take over an account by registering over it. */
export async function register(env: Env, shards: Shards, config: Config, req: ParsedRequest, now: number): Promise<Outcome> {
  const tokenHash = await hashToken(req.authToken);
  const registered = await registerWithHash(env, shards, config, req.user, tokenHash, now);
  return outcome(registered === "taken" ? Result.AUTHENTICATION_INVALID : Result.SUCCESS);
}

/** "repeat": registered with this token already (harmless); "taken": with another token, refused. */
export async function registerWithHash(env: Env, shards: Shards, config: Config, id: Uint8Array, tokenHash: Uint8Array, now: number): Promise<"created" | "repeat" | "taken"> {
  const user = await settled(env, shards, id);
  // Into the S2 index before D1 (src/domain/s2-filter.ts); if the index fails, nothing is written.
  await noteChanges(env, config, await bucketEpoch(shards, config), [user], now);
  if (await db.registerUser(shards, user, tokenHash, now)) {
    // Only a shortcut for the first sync: without it, that sync learns the credential from D1.
    await (await clientOf(env, shards, config, user))
      .setCredential({ tokenHash, addedAt: now }, now)
      .catch((error: Error) => console.error(`credential copy failed: ${error.message}`));
    return "created";
  }
  const credentials = await db.findCredentials(shards, user);
  return credentials && sameHash(credentials.tokenHash, tokenHash) ? "repeat" : "taken";
}

export async function unregister(env: Env, shards: Shards, config: Config, req: ParsedRequest, now: number): Promise<Outcome> {
  const tokenHash = await hashToken(req.authToken);
  const user = await settled(env, shards, req.user);
  const credentials = await db.findCredentials(shards, user);
  if (!credentials || !sameHash(credentials.tokenHash, tokenHash)) return outcome(Result.AUTHENTICATION_INVALID);
  // Revoked in the client's object first: if that fails, nothing is deleted and the client retries.
  await (await clientOf(env, shards, config, user)).revokeCredential(tokenHash, now);
  await noteChanges(env, config, await bucketEpoch(shards, config), [user], now);
  // The token hash is matched again in SQL so a concurrent re-registration is never undone.
  const removed = await db.removeUser(shards, user, tokenHash, now);
  return outcome(removed ? Result.SUCCESS : Result.AUTHENTICATION_INVALID);
}

export async function removeByOperator(env: Env, shards: Shards, config: Config, id: Uint8Array, now: number): Promise<boolean> {
  const user = await settled(env, shards, id);
  await (await clientOf(env, shards, config, user)).revokeCredential(null, now);
  await noteChanges(env, config, await bucketEpoch(shards, config), [user], now);
  return db.removeUserByOperator(shards, user, now);
}

export const MAX_IMPORT_BATCH = 10_000;

// What the account service may do (/admin/users* or src/rpc/), each change audited.

/** "taken" changes nothing and is not audited. */
export async function enrollUser(env: Env, shards: Shards, config: Config, actor: AuditActor, user: Uint8Array, tokenHash: Uint8Array, now: number) {
  const registered = await registerWithHash(env, shards, config, user, tokenHash, now);
  if (registered !== "taken") await recordChange(shards, config, actor, now, "register", user, { created: registered === "created" });
  return registered;
}

export async function dismissUser(env: Env, shards: Shards, config: Config, actor: AuditActor, user: Uint8Array, now: number): Promise<boolean> {
  const removed = await removeByOperator(env, shards, config, user, now);
  await recordChange(shards, config, actor, now, "delete", user, { removed });
  return removed;
}

/** Idempotent: a batch sent again registers nobody twice, so an interrupted import can resend it. */
export async function importUsers(env: Env, shards: Shards, config: Config, actor: AuditActor, users: db.ImportedUser[], announce: boolean, now: number): Promise<number> {
  // Into the S2 index first: all of an announced batch; else those it brings back, found by a read
  // before the write (the index's margin covers a removal between the two).
  const keying = await keyingOf(env, shards);
  const { ids, previous } = storedOf(keying, users.map((u) => u.id));
  await settle(shards, keying, ids, previous);
  const changing = announce ? ids : (await db.findRemoved(shards, ids)).rows.map((r) => ids[r.i]!);
  await noteChanges(env, config, await bucketEpoch(shards, config), changing, now);
  const imported = await db.importUsers(shards, users.map((u, i) => ({ id: ids[i]!, tokenHash: u.tokenHash })), announce ? now : 0, now);
  await recordChange(shards, config, actor, now, "import", null, { received: users.length, imported, announce });
  return imported;
}
