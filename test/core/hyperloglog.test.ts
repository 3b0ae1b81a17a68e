// The distinct-identifier sketch: accurate enough to judge address books, and nothing to read back.

import { describe, expect, it } from "vitest";
import { SKETCH_BYTES, emptySketch, estimateDistinct, mergeSketch, sketchOf } from "../../src/core/hyperloglog";
import { seededIds } from "../helpers";

describe("HyperLogLog sketch", () => {
  it.each([100, 1_000, 30_000, 100_000])("estimates %i distinct identifiers within 6%", (n) => {
    const estimate = estimateDistinct(sketchOf(seededIds(n, n)));
    expect(Math.abs(estimate - n) / n).toBeLessThan(0.06);
  });

  it("counts an identifier checked again only once", () => {
    const ids = seededIds(5_000, 1);
    const once = estimateDistinct(sketchOf(ids));
    expect(estimateDistinct(sketchOf([...ids, ...ids, ...ids]))).toBe(once);
  });

  it("merges two sketches into the sketch of the union", () => {
    const [a, b, both] = [seededIds(20_000, 2), seededIds(20_000, 3), [] as Uint8Array[]];
    both.push(...a, ...b.slice(0, 10_000));
    const merged = mergeSketch(sketchOf(a), sketchOf(b.slice(0, 10_000)));
    expect(merged).toEqual(sketchOf(both));
    expect(Math.abs(estimateDistinct(merged) - 30_000) / 30_000).toBeLessThan(0.06);
  });

  it("has a fixed size and estimates 0 when empty", () => {
    expect(sketchOf(seededIds(50_000, 4)).length).toBe(SKETCH_BYTES);
    expect(estimateDistinct(emptySketch())).toBe(0);
  });
});
