// Bounded concurrency (src/core/concurrency.ts). Pure.

import { describe, expect, it } from "vitest";
import { mapLimit } from "../../src/core/concurrency";

describe("mapLimit", () => {
  it("keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([...Array(20).keys()], 6, async (x) => {
      peak = Math.max(peak, ++running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      running--;
      return x * 2;
    });
    expect(results).toEqual([...Array(20).keys()].map((x) => x * 2));
    expect(peak).toBe(6);
  });
});
