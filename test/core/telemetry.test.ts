// The monitoring's tallies: what one isolate counts between hand-overs, and the merge of several
// monitor objects back into one view for the operator.

import { describe, expect, it } from "vitest";
import { emptyNorm, normOf } from "../../src/core/hit-ratio-norm";
import { emptyTally, mergeNorms, mergeSeries, mergeTallies, objectFor, samplesOut, tallyRefusal, tallySync, zeros } from "../../src/core/telemetry";
import { MINUTE_MS } from "../../src/core/time";

const T0 = 1_000 * MINUTE_MS;

describe("tallies", () => {
  it("count syncs per minute, learn only from unflagged full syncs, and count what unjudged clients were shown per network", () => {
    const tally = emptyTally(T0);
    expect(tallySync(tally, { kind: "full", identifiers: 300, matches: 120, flagged: false }, T0, ["198.51.100.1", "asn:64500"])).toEqual({ bin: 20, at: T0 });
    expect(tallySync(tally, { kind: "full", identifiers: 300, matches: 0, flagged: true }, T0 + 1)).toBeNull();
    expect(tallySync(tally, { kind: "incremental", identifiers: 300, matches: 2, flagged: false }, T0 + MINUTE_MS, ["198.51.100.1"])).toBeNull();
    tallyRefusal(tally, T0 + MINUTE_MS);
    expect(tally.minutes[T0 / MINUTE_MS]).toEqual({ ...zeros(), syncs: 2, full: 2, identifiers: 600, matches: 120, revealed: 120 });
    expect(tally.minutes[T0 / MINUTE_MS + 1]).toEqual({ ...zeros(), syncs: 1, incremental: 1, identifiers: 300, matches: 2, refusals: 1 });
    expect(tally.networks).toEqual({ "198.51.100.1": 120, "asn:64500": 120 }); // incremental syncs reveal no directory
    expect(tally.syncs).toBe(3);
    expect(normOf(tally.norm, T0).samples).toBeCloseTo(1, 6);
  });

  it("teach the norm only with syncs that may, count a sync's egress as it says, and count it globally without networks (guard off)", () => {
    const tally = emptyTally(T0);
    expect(tallySync(tally, { kind: "full", identifiers: 300, matches: 120, flagged: false, teaches: false }, T0, [])).toBeNull();
    expect(normOf(tally.norm, T0).samples).toBe(0);
    tallySync(tally, { kind: "full", identifiers: 20_000, matches: 8_000, flagged: false, revealed: 1_000 }, T0, ["198.51.100.1"]);
    expect(tally.minutes[T0 / MINUTE_MS]).toMatchObject({ matches: 8_120, revealed: 1_120 });
    expect(tally.networks).toEqual({ "198.51.100.1": 1_000 });
  });

  it("merge without losing a count, and two objects' series and norms add up", () => {
    const a = emptyTally(T0);
    const b = emptyTally(T0);
    tallySync(a, { kind: "full", identifiers: 100, matches: 40, flagged: false }, T0, ["n"]);
    tallySync(b, { kind: "full", identifiers: 100, matches: 40, flagged: false }, T0, ["n"]);
    const merged = mergeTallies(a, b);
    expect(merged.minutes[T0 / MINUTE_MS]!.identifiers).toBe(200);
    expect(merged.networks).toEqual({ n: 80 });
    expect(merged.syncs).toBe(2);
    expect(mergeSeries([[{ at: T0, ...zeros(), syncs: 1 }], [{ at: T0, ...zeros(), syncs: 2 }, { at: T0 + MINUTE_MS, ...zeros(), syncs: 5 }]])).toEqual([
      { at: T0, ...zeros(), syncs: 3 },
      { at: T0 + MINUTE_MS, ...zeros(), syncs: 5 },
    ]);
    // Samples taken out on another object than the one that learned them: the merged norm loses them.
    const learned = a.norm;
    const out = { bins: samplesOut([{ bin: 20, at: T0 }], T0), at: T0 };
    expect(normOf(mergeNorms([learned, out], T0), T0).samples).toBeCloseTo(0, 6);
    expect(normOf(mergeNorms([out], T0), T0).samples).toBe(0); // never below 0
    expect(normOf(mergeNorms([emptyNorm(T0)], T0), T0).prior).toBe(true);
  });

  it("keep a client's or a network's records on the same object every time", () => {
    expect(objectFor("abcd", 16)).toBe(objectFor("abcd", 16));
    expect(objectFor("abcd", 1)).toBe(0);
    const spread = new Set(Array.from({ length: 200 }, (_, i) => objectFor(`client-${i}`, 16)));
    expect(spread.size).toBe(16);
  });
});
