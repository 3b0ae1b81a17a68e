// The pseudonym keys' public face: the format PSEUDONYM_KEYS must have, its current version, and a
// fingerprint that follows only the current key (checked against openssl's HMAC-SHA256).
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/config";
import { currentVersion, fingerprint, parseKeyEntries } from "../../src/core/key-fingerprint";

const K1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const K2 = "ff".repeat(32);
// printf 'icd pseudonym key fingerprint' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>, first 8 bytes
const FINGERPRINT_K1 = "b62825a6223eeab8";
const FINGERPRINT_K2 = "cb4f866bde03ff00";

describe("PSEUDONYM_KEYS", () => {
  it("reads <version>:<hex> entries; the current version is the highest", () => {
    expect(parseKeyEntries(`1:${K1}`)).toEqual([{ version: 1, key: Uint8Array.from({ length: 32 }, (_, i) => i) }]);
    expect(currentVersion(`1:${K1}`)).toBe(1);
    expect(currentVersion(`1:${K1}, 2:${K2}`)).toBe(2);
    expect(currentVersion(`2:${K2},1:${K1.toUpperCase()}`)).toBe(2);
  });

  it.each([
    ["", /PSEUDONYM_KEYS is empty/],
    [K1, /PSEUDONYM_KEYS entry 1 is not <version>:<hex key>/],
    [`1:${K1},2:not-hex-${K2}`, /PSEUDONYM_KEYS entry 2 is not/],
    [`1:${"ab".repeat(31)}`, /PSEUDONYM_KEYS entry 1 has a key of 248 bits: at least 256/],
    [`1:${K1}a`, /PSEUDONYM_KEYS entry 1 has an odd number of hex digits/],
    [`2:${K2}`, /PSEUDONYM_KEYS versions must be 1 to 1, each once \(found 2\)/],
    [`1:${K1},1:${K2}`, /versions must be 1 to 2, each once \(found 1, 1\)/],
    [`1:${K1},3:${K2}`, /versions must be 1 to 2, each once \(found 1, 3\)/],
  ])("refuses %j, naming PSEUDONYM_KEYS and never the key", (keys, message) => {
    expect(() => parseKeyEntries(keys)).toThrow(ConfigError);
    expect(() => parseKeyEntries(keys)).toThrow(message);
    try {
      parseKeyEntries(keys);
    } catch (error) {
      expect((error as Error).message).not.toMatch(/ab{2}|ffff|0001020304/);
    }
  });
});

describe("the fingerprint", () => {
  it("is the first 8 bytes of HMAC-SHA256(current key, the label), in hex", async () => {
    expect(await fingerprint(`1:${K1}`)).toBe(FINGERPRINT_K1);
    expect(await fingerprint(`1:${K2}`)).toBe(FINGERPRINT_K2);
  });

  it("follows the current key only: a rotation changes it, the older entries do not", async () => {
    expect(await fingerprint(`1:${K1},2:${K2}`)).toBe(FINGERPRINT_K2);
    expect(await fingerprint(`2:${K2},1:${"11".repeat(32)}`)).toBe(FINGERPRINT_K2);
  });

  it("refuses a malformed secret rather than fingerprinting part of it", async () => {
    await expect(fingerprint(`1:${K1},2:${K2.slice(2)}`)).rejects.toThrow(ConfigError);
  });
});
