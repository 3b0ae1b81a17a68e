// Registration, deletion and authentication of users (docs/protocol.md, "Registration").

import * as db from "../db/users";
import type { Shards } from "../db/shards";
import type { Config } from "../core/config";
import type { AuditActor } from "../db/audit";
import { recordChange } from "./audit";
import { sameHash, hashToken } from "../core/token";
import { type Outcome, type ParsedRequest, Result, outcome } from "../core/wire";

export interface Account {
  bucketEpoch: number;
}

/** The account of a registered user whose token matches, or null. */
export async function authenticate(shards: Shards, user: Uint8Array, authToken: Uint8Array): Promise<Account | null> {
  const [credentials, tokenHash] = await Promise.all([db.findCredentials(shards, user), hashToken(authToken)]);
  if (!credentials || !sameHash(credentials.tokenHash, tokenHash)) return null;
  return { bucketEpoch: credentials.bucketEpoch };
}

/**
 * Registers a new (or deleted) user. Registering again with the same token changes nothing; with a
 * different token it is refused, so nobody can take over an account by registering over it.
 */
export async function register(shards: Shards, req: ParsedRequest, now: number): Promise<Outcome> {
  const registered = await registerWithHash(shards, req.user, await hashToken(req.authToken), now);
  return outcome(registered === "taken" ? Result.AUTHENTICATION_INVALID : Result.SUCCESS);
}

/**
 * The registration rule, for clients and the account service alike: "created" if this call
 * registered the user, "repeat" if they were registered with this token already (a harmless
 * repeat), "taken" if registered with another token (a take-over attempt, refused).
 */
export async function registerWithHash(shards: Shards, user: Uint8Array, tokenHash: Uint8Array, now: number): Promise<"created" | "repeat" | "taken"> {
  if (await db.registerUser(shards, user, tokenHash, now)) return "created";
  const credentials = await db.findCredentials(shards, user);
  return credentials && sameHash(credentials.tokenHash, tokenHash) ? "repeat" : "taken";
}

/** Unregisters an authenticated user: they leave S1 and enter S2 as removed. */
export async function unregister(shards: Shards, req: ParsedRequest, now: number): Promise<Outcome> {
  const tokenHash = await hashToken(req.authToken);
  const credentials = await db.findCredentials(shards, req.user);
  if (!credentials || !sameHash(credentials.tokenHash, tokenHash)) return outcome(Result.AUTHENTICATION_INVALID);
  // The token hash is matched again in SQL so a concurrent re-registration is never undone.
  const removed = await db.removeUser(shards, req.user, tokenHash, now);
  return outcome(removed ? Result.SUCCESS : Result.AUTHENTICATION_INVALID);
}

/** The most users one import call may carry (HTTP or RPC). */
export const MAX_IMPORT_BATCH = 10_000;

// What the account service may do, over HTTP (/admin/users*) or its Service Binding (src/rpc/),
// each change audited with the credential that made it.

/** Registers a user with the hash of their token, for the account service; "taken" changes nothing and is not audited. */
export async function enrollUser(shards: Shards, config: Config, actor: AuditActor, user: Uint8Array, tokenHash: Uint8Array, now: number) {
  const registered = await registerWithHash(shards, user, tokenHash, now);
  if (registered !== "taken") await recordChange(shards, config, actor, now, "register", user, { created: registered === "created" });
  return registered;
}

/** Unregisters a user for the account service: true if they were registered. */
export async function dismissUser(shards: Shards, config: Config, actor: AuditActor, user: Uint8Array, now: number): Promise<boolean> {
  const removed = await db.removeUserByOperator(shards, user, now);
  await recordChange(shards, config, actor, now, "delete", user, { removed });
  return removed;
}

/**
 * Registers a batch of users with their token hashes; `announce` puts them in S2 as new. Idempotent:
 * a batch sent again registers nobody twice, so an interrupted import can resend it.
 */
export async function importUsers(shards: Shards, config: Config, actor: AuditActor, users: db.ImportedUser[], announce: boolean, now: number): Promise<number> {
  const imported = await db.importUsers(shards, users, announce ? now : 0, now);
  await recordChange(shards, config, actor, now, "import", null, { received: users.length, imported, announce });
  return imported;
}
