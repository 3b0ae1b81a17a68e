// Hex encoding of identifiers for SQL parameters (src/hex.ts). Pure.

import { describe, expect, it } from "vitest";
import { fromHex, hexDigits, jsonHexList, jsonKeyHexPairs, toHex } from "../../src/core/hex";
import { keysOf } from "../../src/core/lookup-key";
import { randomIds } from "../helpers";

describe("jsonHexList", () => {
  it("is the JSON list of the chosen identifiers' hex, in the order given, whatever their lengths", () => {
    const ids = [new Uint8Array([0, 1, 0xab, 0xff]), ...randomIds(50, 1), ...randomIds(50, 33), ...randomIds(50, 64)];
    const hex = hexDigits(ids);
    const order = [...ids.keys()].sort(() => Math.random() - 0.5).slice(0, 120);
    expect(jsonHexList(hex, order)).toBe(JSON.stringify(order.map((i) => toHex(ids[i]!))));
    expect(jsonHexList(hex, [0])).toBe('["0001abff"]');
    expect(jsonHexList(hex, [])).toBe("[]");
  });

  it("round-trips through fromHex", () => {
    const ids = randomIds(20, 32);
    const parsed = JSON.parse(jsonHexList(hexDigits(ids), [...ids.keys()])) as string[];
    expect(parsed.map((h) => [...fromHex(h)!])).toEqual(ids.map((id) => [...id]));
  });
});

describe("jsonKeyHexPairs", () => {
  it("is the JSON list of [key, hex] of the chosen identifiers, in the order given", () => {
    const ids = [new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), new Uint8Array([0]), ...randomIds(50, 1), ...randomIds(50, 16), ...randomIds(50, 64)];
    const keys = keysOf(ids);
    const order = [...ids.keys()].sort(() => Math.random() - 0.5).slice(0, 120);
    expect(jsonKeyHexPairs(hexDigits(ids), keys, order)).toBe(JSON.stringify(order.map((i) => [keys[i], toHex(ids[i]!)])));
    expect(jsonKeyHexPairs(hexDigits(ids), keys, [0, 1])).toBe('[[281474976710655,"ffffffffffffff"],[0,"00"]]');
    expect(jsonKeyHexPairs(hexDigits(ids), keys, [])).toBe("[]");
  });
});
