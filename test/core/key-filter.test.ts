// The S2 index's in-memory filter of keys (src/core/key-filter.ts): never a false negative, and few
// false positives at its capacity.

import { describe, expect, it } from "vitest";
import { KeyFilter } from "../../src/core/key-filter";

const randomKey = () => Math.floor(Math.random() * 2 ** 48);

describe("KeyFilter", () => {
  it("has every key added, whatever its size, and few others", () => {
    const filter = new KeyFilter(20_000);
    const keys = Array.from({ length: 20_000 }, randomKey);
    for (const k of keys) filter.add(k);
    expect(keys.every((k) => filter.has(k))).toBe(true);
    const others = Array.from({ length: 20_000 }, randomKey).filter((k) => filter.has(k)).length;
    expect(others / 20_000).toBeLessThan(0.02);
    expect(filter.full()).toBe(false);
  });

  it("tells small keys and keys that differ only in their high bytes apart, and says when it is over its capacity", () => {
    const filter = new KeyFilter(10);
    for (let k = 0; k < 10; k++) filter.add(k);
    for (let k = 0; k < 10; k++) expect(filter.has(k)).toBe(true);
    const high = Array.from({ length: 1000 }, (_, i) => (i + 1) * 2 ** 32).filter((k) => filter.has(k)).length;
    expect(high).toBeLessThan(50);
    filter.add(11);
    expect(filter.full()).toBe(true);
  });
});
