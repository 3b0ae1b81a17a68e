// Who is calling the operator's side: a person signed in through Cloudflare Access (its JWT verified
// here against the team's published keys), or a key of ADMIN_KEYS (src/core/credentials.ts).

import { type JWTPayload, type JWTVerifyGetKey, createRemoteJWKSet, errors, jwtVerify } from "jose";
import type { AccessConfig, Config } from "../core/config";
import { type Actor, checkKey } from "../core/credentials";
import type { Role } from "../core/roles";

export interface OperatorHeaders {
  authorization: string | undefined;
  accessAssertion: string | undefined;
}

/** An Access identity that ACCESS_ROLES grants nothing is an actor without roles: known, and refused (403) everywhere. */
export async function authenticateOperator(config: Config, headers: OperatorHeaders, now: number): Promise<Actor | null> {
  if (config.access && headers.accessAssertion !== undefined) return verifyAccess(config.access, headers.accessAssertion, now);
  return checkKey(config, headers.authorization);
}

// One key set per team and isolate: jose caches the keys (10 minutes) and fetches them again when
// a token names a key it does not know (Access rotates its keys), at most every 30 seconds.
const keySets = new Map<string, JWTVerifyGetKey>();
function keySetOf(access: AccessConfig): JWTVerifyGetKey {
  let keys = keySets.get(access.certsUrl);
  if (!keys) keySets.set(access.certsUrl, (keys = createRemoteJWKSet(new URL(access.certsUrl))));
  return keys;
}

/** Any other error (the keys could not be fetched) is a failure of ours, not a 401. */
const INVALID = /^ERR_(JWT|JWS)_|^ERR_JWKS_(NO|MULTIPLE)_MATCHING_KEYS?$|^ERR_JOSE_(ALG_NOT_ALLOWED|NOT_SUPPORTED)$/;

async function verifyAccess(access: AccessConfig, assertion: string, now: number): Promise<Actor | null> {
  let payload: JWTPayload;
  try {
    // Access signs with RS256; accepting nothing else rules out algorithm confusion.
    ({ payload } = await jwtVerify(assertion, keySetOf(access), {
      issuer: access.issuer,
      audience: access.audience,
      algorithms: ["RS256"],
      currentDate: new Date(now),
      requiredClaims: ["exp"],
    }));
  } catch (error) {
    if (error instanceof errors.JOSEError && INVALID.test(error.code)) return null;
    throw error;
  }
  const identities = identitiesOf(payload);
  // Whom the token is about: an email or a service token, never a bare group.
  if (identities[0] === undefined || identities[0].startsWith("group:")) return null;
  const roles = [...new Set(access.grants.filter((g) => identities.includes(g.identity)).map((g) => g.role))] as Role[];
  return { roles, keyId: `access:${identities[0]!.replace(/^email:/, "")}` };
}

// Groups come only when Access is set to pass them on; a service token carries `common_name` instead of an email.
function identitiesOf(payload: JWTPayload): string[] {
  const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);
  const identities: string[] = [];
  if (typeof payload.email === "string" && payload.email !== "") identities.push(`email:${payload.email.toLowerCase()}`);
  else if (typeof payload.common_name === "string" && payload.common_name !== "") identities.push(`token:${payload.common_name}`);
  const custom = payload.custom as { groups?: unknown } | undefined;
  for (const group of [...strings(payload.groups), ...strings(custom?.groups)]) identities.push(`group:${group}`);
  return identities;
}
