// The local pseudonym keys as the posture audit sees them: parsed by the service's own parser
// (src/core/config.ts) and fingerprinted by its own chain (src/core/pseudonym.ts), here on Node's AES.

import { createCipheriv } from "node:crypto";
import { parsePseudonymKeys } from "../../src/core/config";
import { type EncryptBlocks, PseudonymChain, cmacKey } from "../../src/core/pseudonym";

function ecb(key: Uint8Array): EncryptBlocks {
  const cipher = createCipheriv("aes-256-ecb", key, new Uint8Array(0));
  cipher.setAutoPadding(false);
  return (data) => new Uint8Array(cipher.update(data));
}

/** Each version of a PSEUDONYM_KEYS value; a ConfigError naming PSEUDONYM_KEYS where the service would refuse it. */
export function parseKeyEntries(secret: string): { version: number; key: Uint8Array }[] {
  return parsePseudonymKeys({ PSEUDONYM_KEYS: secret }).map((key, i) => ({ version: i + 1, key }));
}

/** The fingerprint of the current key of a PSEUDONYM_KEYS value, as GET /admin/pseudonym-key gives it. */
export function fingerprint(secret: string): string {
  return new PseudonymChain(parsePseudonymKeys({ PSEUDONYM_KEYS: secret }).map((key) => cmacKey(ecb(key)))).fingerprint();
}
