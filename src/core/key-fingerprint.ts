// The public face of the pseudonym keys (the PSEUDONYM_KEYS secret): which version is current, and a
// short fingerprint of its key that tells two environments sharing a key apart without showing it.
// Pure (WebCrypto only), so that the Worker (GET /admin/pseudonym-key) and `npm run posture` (the
// local key in .dev.vars) compute the same fingerprint.

import { ConfigError } from "./config";
import { fromHex, toHex } from "./hex";

/** A key of at least 256 bits: 64 hex digits. */
export const MIN_KEY_HEX_DIGITS = 64;
const FINGERPRINT_LABEL = "icd pseudonym key fingerprint";
const FINGERPRINT_BYTES = 8;

export interface PseudonymKeyEntry {
  version: number;
  key: Uint8Array;
}

/**
 * `<version>:<hex>` entries apart by commas (spaces allowed), versions 1..N in any order and none
 * missing, each key at least 64 hex digits. Anything else is a ConfigError naming PSEUDONYM_KEYS and
 * the entry's position, never its text: the message may reach a log.
 */
export function parseKeyEntries(keysSecret: string): PseudonymKeyEntry[] {
  const entries = keysSecret.split(",").map((e) => e.trim()).filter((e) => e !== "");
  if (entries.length === 0) throw new ConfigError("PSEUDONYM_KEYS is empty: give at least one <version>:<hex key> entry");
  const parsed = entries.map((entry, i) => {
    const match = /^(\d{1,6}):([0-9a-fA-F]+)$/.exec(entry);
    if (!match) throw new ConfigError(`PSEUDONYM_KEYS entry ${i + 1} is not <version>:<hex key>`);
    const hex = match[2]!;
    if (hex.length < MIN_KEY_HEX_DIGITS) {
      throw new ConfigError(`PSEUDONYM_KEYS entry ${i + 1} has a key of ${hex.length * 4} bits: at least 256 (${MIN_KEY_HEX_DIGITS} hex digits, \`openssl rand -hex 32\`)`);
    }
    const key = fromHex(hex);
    if (!key) throw new ConfigError(`PSEUDONYM_KEYS entry ${i + 1} has an odd number of hex digits`);
    return { version: Number(match[1]), key };
  });
  const versions = parsed.map((e) => e.version).sort((a, b) => a - b);
  if (versions.some((v, i) => v !== i + 1)) throw new ConfigError(`PSEUDONYM_KEYS versions must be 1 to ${parsed.length}, each once (found ${versions.join(", ")})`);
  return parsed;
}

/** The version new pseudonyms are made under: the highest. */
export function currentVersion(keysSecret: string): number {
  return parseKeyEntries(keysSecret).length;
}

/** Hex of the first 8 bytes of HMAC-SHA256(current key, a fixed label): public, and says nothing of the key. */
export async function fingerprint(keysSecret: string): Promise<string> {
  const entries = parseKeyEntries(keysSecret);
  const current = entries.find((e) => e.version === entries.length)!;
  const hmacKey = await crypto.subtle.importKey("raw", current.key as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, new TextEncoder().encode(FINGERPRINT_LABEL)));
  return toHex(mac.subarray(0, FINGERPRINT_BYTES));
}
