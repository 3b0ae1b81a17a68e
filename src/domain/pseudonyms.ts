// The pseudonym keys of this environment (PSEUDONYM_KEYS), ready: core/pseudonym.ts's CMAC chain on
// workerd's node:crypto AES-256-ECB (compatibility flag nodejs_compat; BoringSSL, AES-NI). Parsed once
// per isolate; a missing or bad key throws a ConfigError naming PSEUDONYM_KEYS on every request, so
// the service refuses to serve without one.

import { createCipheriv } from "node:crypto";
import { ConfigError, cached, parsePseudonymKeys } from "../core/config";
import { type EncryptBlocks, PseudonymChain, cmacKey, splitPseudonyms } from "../core/pseudonym";
import { moveForward, readKeyState, recordFingerprint, setKeyVersion } from "../db/keying";

/** D1's meta holds integers. */
const fingerprintNumber = (chain: PseudonymChain, version: number) => parseInt(chain.fingerprint(version).slice(0, 12), 16);
import type { Shards } from "../db/shards";

/** AES-256-ECB without padding under one key; one cipher object serves every call (ECB keeps no state between blocks). */
function ecb(key: Uint8Array): EncryptBlocks {
  const cipher = createCipheriv("aes-256-ecb", key, new Uint8Array(0));
  cipher.setAutoPadding(false);
  return (data) => {
    const out = cipher.update(data);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  };
}

export const chainOf = (keys: readonly Uint8Array[]): PseudonymChain => new PseudonymChain(keys.map((key) => cmacKey(ecb(key))));

export const pseudonymsOf = cached((env) => chainOf(parsePseudonymKeys(env)));

/** While `rotating` (`npm run rekey` not finished), lookups ask for both versions and writes first move a user's old row forward. */
export interface Keying {
  chain: PseudonymChain;
  version: number;
  rotating: boolean;
}

/** After the rotation only lookups pay for a stale "rotating": twice the probes. */
const ROTATING_RECHECK_MS = 60_000;
const keyings = new WeakMap<Shards, { keying: Promise<Keying>; until: number }>();

/** A bad PSEUDONYM_KEYS throws a ConfigError naming it. */
export function keyingOf(env: Env, shards: Shards): Promise<Keying> {
  const chain = pseudonymsOf(env);
  const now = Date.now();
  const known = keyings.get(shards);
  if (known && known.until > now) return known.keying;
  const keying = (async (): Promise<Keying> => {
    let stored: number;
    let fingerprints: Map<number, number>;
    try {
      ({ stored, fingerprints } = await readKeyState(shards));
    } catch (error) {
      // USERS_0 unreadable: this request asks for both versions, which is right whatever the rows are at.
      console.error(`key version unreadable: ${(error as Error).message}`);
      keyings.delete(shards);
      return { chain, version: chain.current, rotating: true };
    }
    if (stored > chain.current) throw new ConfigError(`PSEUDONYM_KEYS has ${chain.current} key(s), but the users table is at key version ${stored}: a key is missing`);
    if (stored < chain.current - 1) {
      throw new ConfigError(`PSEUDONYM_KEYS is at version ${chain.current}, but the users table at ${stored}: add one key at a time, and run \`npm run rekey\` after each`);
    }
    // A wrong key would find nobody and write users nobody finds: refused, by the keys' fingerprints.
    for (const [version, recorded] of fingerprints) {
      if (version <= chain.current && recorded !== fingerprintNumber(chain, version)) {
        throw new ConfigError(`PSEUDONYM_KEYS's key of version ${version} is not the one the users table was written with (its fingerprint differs)`);
      }
    }
    if (!fingerprints.has(chain.current)) await recordFingerprint(shards, chain.current, fingerprintNumber(chain, chain.current));
    setKeyVersion(shards, chain.current);
    return { chain, version: chain.current, rotating: stored < chain.current };
  })();
  keyings.set(shards, { keying, until: Infinity });
  keying.then(
    (k) => keyings.get(shards)?.keying === keying && keyings.set(shards, { keying, until: k.rotating ? now + ROTATING_RECHECK_MS : Infinity }),
    () => keyings.delete(shards),
  );
  return keying;
}

/** In the isolate that finished `npm run rekey`. */
export const forgetKeying = (shards: Shards) => void keyings.delete(shards);

/** Both in request order. */
export function storedOf(keying: Keying, ids: readonly Uint8Array[]): { ids: Uint8Array[]; previous: Uint8Array[] | null } {
  if (!keying.rotating) return { ids: splitPseudonyms(keying.chain.of(ids, keying.version)), previous: null };
  if (keying.version === 1) return { ids: splitPseudonyms(keying.chain.of(ids, 1)), previous: [...ids] };
  const both = keying.chain.ofBoth(ids, keying.version);
  return { ids: splitPseudonyms(both.current), previous: splitPseudonyms(both.previous) };
}

export function storedUser(keying: Keying, id: Uint8Array): { user: Uint8Array; previous: Uint8Array | null } {
  const { ids, previous } = storedOf(keying, [id]);
  return { user: ids[0]!, previous: previous?.[0] ?? null };
}

/** Before a write at the current version. */
export async function settle(shards: Shards, keying: Keying, ids: Uint8Array[], previous: Uint8Array[] | null): Promise<void> {
  if (previous && previous.length > 0) await moveForward(shards, previous, ids, keying.version - 1);
}

export interface Stored {
  ids: Uint8Array[];
  previous: Uint8Array[] | null;
}

/** A user's stored pseudonym, and the one of the version before while a rotation lasts. */
export type StoredUser = { user: Uint8Array; previous: Uint8Array | null };

export async function storedRequest(env: Env, shards: Shards, user: Uint8Array, identifiers: Uint8Array[]): Promise<{ user: StoredUser; stored: Stored }> {
  const keying = await keyingOf(env, shards);
  const all = storedOf(keying, [user, ...identifiers]);
  return {
    user: { user: all.ids[0]!, previous: all.previous?.[0] ?? null },
    stored: { ids: all.ids.slice(1), previous: all.previous?.slice(1) ?? null },
  };
}
