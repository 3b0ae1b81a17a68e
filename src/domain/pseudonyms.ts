// The pseudonym keys of this environment (PSEUDONYM_KEYS), ready: core/pseudonym.ts's CMAC chain on
// workerd's node:crypto AES-256-ECB (compatibility flag nodejs_compat; BoringSSL, AES-NI). Parsed once
// per isolate; a missing or bad key throws a ConfigError naming PSEUDONYM_KEYS on every request, so
// the service refuses to serve without one.

import { createCipheriv } from "node:crypto";
import { cached, parsePseudonymKeys } from "../core/config";
import { type EncryptBlocks, PseudonymChain, cmacKey } from "../core/pseudonym";

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

/** This environment's pseudonym chain. */
export const pseudonymsOf = cached((env) => chainOf(parsePseudonymKeys(env)));
