// The admin API's keys: Bearer `<key id>.<secret>`, or Basic with id and secret (for a browser),
// checked against the SHA-256 hashes in ADMIN_KEYS in constant time.

import type { Config } from "./config";
import { ROLES, type Role } from "./roles";
import { hashToken, sameHash } from "./token";

/** `keyId` names the credential in the audit log. */
export interface Actor {
  roles: readonly Role[];
  keyId: string;
}

/** ADMIN_TOKEN's key id; it holds every role. */
export const LEGACY_KEY_ID = "legacy";

interface Presented {
  /** The whole token (bearer) or password (Basic): what ADMIN_TOKEN is compared with. */
  whole: string;
  id?: string;
  secret?: string;
}

function presented(authorization: string): Presented | undefined {
  const bearer = /^Bearer (.+)$/.exec(authorization)?.[1];
  if (bearer !== undefined) {
    const dot = bearer.indexOf(".");
    return dot > 0 ? { whole: bearer, id: bearer.slice(0, dot), secret: bearer.slice(dot + 1) } : { whole: bearer };
  }
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization)?.[1];
  if (basic === undefined) return undefined;
  let decoded: string;
  try {
    decoded = atob(basic);
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { whole: decoded.slice(colon + 1), id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

const encoder = new TextEncoder();
const hashOf = (text: string) => hashToken(encoder.encode(text));
/** Compared with when the key id is unknown, so that an unknown id costs the same time as a wrong secret. */
const NO_KEY = new Uint8Array(32);

export async function checkKey(config: Config, authorization: string | undefined): Promise<Actor | null> {
  const given = authorization === undefined ? undefined : presented(authorization);
  if (!given) return null;
  if (config.legacyAdminToken && config.adminToken !== undefined) {
    const [a, b] = await Promise.all([hashOf(given.whole), hashOf(config.adminToken)]);
    if (sameHash(a, b)) return { roles: ROLES, keyId: LEGACY_KEY_ID };
  }
  if (given.id === undefined || given.secret === undefined) return null;
  const key = config.adminKeys.find((k) => k.id === given.id);
  const matches = sameHash(await hashOf(given.secret), key?.hash ?? NO_KEY);
  return key && matches ? { roles: [key.role], keyId: key.id } : null;
}
