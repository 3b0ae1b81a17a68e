// Registration, deletion and authentication of users (protocol.md, "Registration").

import * as db from "./db";
import { sameHash, hashToken } from "./token";
import { type Outcome, type ParsedRequest, Result, outcome } from "./wire";

export interface Account {
  bucketEpoch: number;
}

/** The account of a registered user whose token matches, or null. */
export async function authenticate(shards: db.Shards, user: Uint8Array, authToken: Uint8Array): Promise<Account | null> {
  const [credentials, tokenHash] = await Promise.all([db.findCredentials(shards, user), hashToken(authToken)]);
  if (!credentials || !sameHash(credentials.tokenHash, tokenHash)) return null;
  return { bucketEpoch: credentials.bucketEpoch };
}

/**
 * Registers a new (or deleted) user. Registering again with the same token changes nothing; with a
 * different token it is refused, so nobody can take over an account by registering over it.
 */
export async function register(shards: db.Shards, req: ParsedRequest, now: number): Promise<Outcome> {
  const tokenHash = await hashToken(req.authToken);
  if (await db.registerUser(shards, req.user, tokenHash, now)) return outcome(Result.SUCCESS);
  // Already registered: the same token is a harmless repeat, any other is a take-over attempt.
  const credentials = await db.findCredentials(shards, req.user);
  if (credentials && sameHash(credentials.tokenHash, tokenHash)) return outcome(Result.SUCCESS);
  return outcome(Result.AUTHENTICATION_INVALID);
}

/** Unregisters an authenticated user: they leave S1 and enter S2 as removed. */
export async function unregister(shards: db.Shards, req: ParsedRequest, now: number): Promise<Outcome> {
  const tokenHash = await hashToken(req.authToken);
  const credentials = await db.findCredentials(shards, req.user);
  if (!credentials || !sameHash(credentials.tokenHash, tokenHash)) return outcome(Result.AUTHENTICATION_INVALID);
  // The token hash is matched again in SQL so a concurrent re-registration is never undone.
  const removed = await db.removeUser(shards, req.user, tokenHash, now);
  return outcome(removed ? Result.SUCCESS : Result.AUTHENTICATION_INVALID);
}
