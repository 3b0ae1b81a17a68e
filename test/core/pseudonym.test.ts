// The pseudonyms' PRF (src/core/pseudonym.ts, on node:crypto by src/domain/pseudonyms.ts) against
// NIST SP 800-38B's AES-256 CMAC examples and a per-identifier CMAC written from the standard's steps
// here, one block at a time; the key chain and the parsing of PSEUDONYM_KEYS.

import { createCipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, parsePseudonymKeys } from "../../src/core/config";
import { fromHex, toHex } from "../../src/core/hex";
import { PSEUDONYM_BYTES, splitPseudonyms } from "../../src/core/pseudonym";
import { chainOf } from "../../src/domain/pseudonyms";

/** E_K of one block. */
function aes(key: Uint8Array, block: Uint8Array): Uint8Array {
  const cipher = createCipheriv("aes-256-ecb", key, new Uint8Array(0));
  cipher.setAutoPadding(false);
  return new Uint8Array(cipher.update(block));
}

/** AES-256-CMAC of one message, as SP 800-38B section 6 writes it. */
function cmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const dbl = (b: Uint8Array) => {
    const out = new Uint8Array(16);
    for (let i = 0; i < 16; i++) out[i] = ((b[i]! << 1) | (i < 15 ? b[i + 1]! >> 7 : 0)) & 0xff;
    if (b[0]! & 0x80) out[15]! ^= 0x87;
    return out;
  };
  const k1 = dbl(aes(key, new Uint8Array(16)));
  const k2 = dbl(k1);
  const n = Math.max(1, Math.ceil(message.length / 16));
  const whole = message.length > 0 && message.length % 16 === 0;
  let c: Uint8Array = new Uint8Array(16);
  for (let j = 0; j < n; j++) {
    const m = new Uint8Array(16);
    m.set(message.subarray(16 * j, 16 * j + 16));
    if (j === n - 1) {
      if (!whole) m[message.length - 16 * j] = 0x80;
      for (let t = 0; t < 16; t++) m[t]! ^= (whole ? k1 : k2)[t]!;
    }
    for (let t = 0; t < 16; t++) m[t]! ^= c[t]!;
    c = aes(key, m);
  }
  return c;
}

const random = (length: number) => crypto.getRandomValues(new Uint8Array(length));
const at = (flat: Uint8Array, i: number) => toHex(flat.subarray(16 * i, 16 * i + 16));

describe("pseudonyms", () => {
  it("are AES-256-CMAC: NIST SP 800-38B's examples (appendix D.3)", () => {
    const key = fromHex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")!;
    const message = fromHex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")!;
    const examples: [number, string][] = [
      [0, "028962f61b7bf89efc6b551f4667d983"],
      [16, "28a7023f452e8f82bd4bf28d8c37c35c"],
      [40, "aaf3d8f1de5640c232f5b169b9c911e6"],
      [64, "e1992190549f6ed5696a2c056c315410"],
    ];
    const tags = chainOf([key]).of(examples.map(([length]) => message.slice(0, length)), 1);
    examples.forEach(([length, want], i) => {
      expect(at(tags, i), `${length} bytes`).toBe(want);
      expect(toHex(cmac(key, message.slice(0, length))), `reference, ${length} bytes`).toBe(want);
    });
  });

  it("of a batch are each identifier's CMAC, whatever the lengths, views and batch sizes", () => {
    for (let round = 0; round < 5; round++) {
      const key = random(32);
      const chain = chainOf([key]);
      const mixed = Array.from({ length: 130 }, (_, i) => random(i % 65));
      const hashes = Array.from({ length: 300 }, () => random(32));
      const big = random(33 * 50);
      const views = Array.from({ length: 50 }, (_, i) => big.subarray(i * 33 + 1, i * 33 + 33)); // unaligned, as protobuf decodes them
      for (const batch of [mixed, hashes, views, [hashes[0]!], [mixed[0]!, mixed[0]!], []]) {
        const flat = chain.of(batch);
        expect(flat.length).toBe(PSEUDONYM_BYTES * batch.length);
        batch.forEach((id, i) => expect(at(flat, i), `${id.length} bytes`).toBe(toHex(cmac(key, id))));
      }
    }
  });

  it("chain: P_v = CMAC(k_v, P_{v-1}); wrapping stored values gives what the identifiers give", () => {
    const keys = [random(32), random(32), random(32)];
    const chain = chainOf(keys);
    const ids = Array.from({ length: 40 }, (_, i) => random(1 + (i % 40)));
    const p1 = ids.map((id) => cmac(keys[0]!, id));
    const p2 = p1.map((p) => cmac(keys[1]!, p));
    const p3 = p2.map((p) => cmac(keys[2]!, p));
    expect(chain.current).toBe(3);
    expect(splitPseudonyms(chain.of(ids, 1)).map(toHex)).toEqual(p1.map(toHex));
    expect(splitPseudonyms(chain.of(ids, 2)).map(toHex)).toEqual(p2.map(toHex));
    expect(splitPseudonyms(chain.of(ids)).map(toHex)).toEqual(p3.map(toHex));
    const both = chain.ofBoth(ids);
    expect(splitPseudonyms(both.previous).map(toHex)).toEqual(p2.map(toHex));
    expect(splitPseudonyms(both.current).map(toHex)).toEqual(p3.map(toHex));
    // A rotation needs no identifier: plain rows (version 0) to 1, then 1 to 2, 2 to 3.
    expect(splitPseudonyms(chain.wrap(ids, 0)).map(toHex)).toEqual(p1.map(toHex));
    expect(splitPseudonyms(chain.wrap(p1, 1)).map(toHex)).toEqual(p2.map(toHex));
    expect(splitPseudonyms(chain.wrap(p2, 2)).map(toHex)).toEqual(p3.map(toHex));
  });

  it("fingerprint: public, of the current key only", () => {
    const [a, b] = [random(32), random(32)];
    expect(chainOf([a]).fingerprint()).toMatch(/^[0-9a-f]{16}$/);
    expect(chainOf([b, a]).fingerprint()).toBe(chainOf([a]).fingerprint());
    expect(chainOf([a, b]).fingerprint()).not.toBe(chainOf([a]).fingerprint());
  });
});

describe("PSEUDONYM_KEYS", () => {
  const hex = (c: string) => c.repeat(64);
  it("parses versions 1..N in order", () => {
    const keys = parsePseudonymKeys({ PSEUDONYM_KEYS: `1:${hex("a")}, 2:${hex("B")}` });
    expect(keys.map(toHex)).toEqual([hex("a"), hex("b")]);
  });
  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["short", `1:${"ab".repeat(16)}`],
    ["not hex", `1:${hex("g")}`],
    ["no version", hex("a")],
    ["a gap", `1:${hex("a")},3:${hex("b")}`],
    ["out of order", `2:${hex("a")},1:${hex("b")}`],
  ])("refuses a value %s, naming PSEUDONYM_KEYS and never echoing it", (_, value) => {
    let error: unknown;
    try {
      parsePseudonymKeys({ PSEUDONYM_KEYS: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("PSEUDONYM_KEYS");
    if (typeof value === "string" && value.length > 8) expect((error as Error).message).not.toContain(value.split(":").at(-1)!.slice(0, 16));
  });
});
