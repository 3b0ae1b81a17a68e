// Registration, deletion and authentication of users (docs/protocol.md, "Registration").

import * as db from "../db/users";
import type { Shards } from "../db/shards";
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
