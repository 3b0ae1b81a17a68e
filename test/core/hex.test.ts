// Hex encoding of identifiers for SQL parameters (src/core/hex.ts). Pure.

import { describe, expect, it } from "vitest";
import { fromHex, hexDigits, jsonKeyHexPairs, toHex } from "../../src/core/hex";
import { keysOf } from "../../src/core/lookup-key";
import { randomIds } from "../helpers";

describe("jsonKeyHexPairs", () => {
  it("is the JSON list of [key, hex] of the chosen identifiers, in the order given", () => {
    const ids = [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0]), ...randomIds(50, 1), ...randomIds(50, 16), ...randomIds(50, 64)];
    const keys = keysOf(ids);
    const order = [...ids.keys()].sort(() => Math.random() - 0.5).slice(0, 120);
    expect(jsonKeyHexPairs(hexDigits(ids), keys, order)).toBe(JSON.stringify(order.map((i) => [keys[i], toHex(ids[i]!)])));
    expect(jsonKeyHexPairs(hexDigits(ids), keys, [0, 1])).toBe('[[281474976710655,"ffffffffffffff"],[0,"00"]]');
    expect(jsonKeyHexPairs(hexDigits(ids), keys, [])).toBe("[]");
  });

  it("round-trips through fromHex", () => {
    const ids = randomIds(20, 32);
    const parsed = JSON.parse(jsonKeyHexPairs(hexDigits(ids), keysOf(ids), [...ids.keys()])) as [number, string][];
    expect(parsed.map(([, h]) => [...fromHex(h)!])).toEqual(ids.map((id) => [...id]));
  });
});
