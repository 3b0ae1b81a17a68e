// A client's charge, refund and sweep as decisions on its state (src/core/client-state.ts).

import { describe, expect, it } from "vitest";
import { chargeClient, refundCharge, sweepClient } from "../../src/core/client-state";
import { parseConfig } from "../../src/core/config";
import type { ClientState } from "../../src/core/charge-policy";
import { SIGNALS_RETENTION_MS, emptySignals } from "../../src/core/flag-rules";

const config = parseConfig({ MAX_CONTACTS: 20000, S2_PERIOD: 86400, S2_DELTA: 864000, DETECT_PROBATION_LIMIT: 5000 });
const T0 = 1_800_000_000_000;
const DELTA = 864_000_000;
const fresh = (): ClientState => ({ emptyAt: { full: 0, incremental: 0 }, flagged: false, vouched: false, signals: undefined });

describe("a client's state", () => {
  it("charges: the new empty time of the bucket, and nothing else changes", () => {
    const { decision, emptyAt, signals } = chargeClient(config, fresh(), "full", 2000, T0);
    expect(decision).toMatchObject({ ok: true, fresh: true });
    expect(emptyAt).toBe(T0 + DELTA / 10);
    expect(signals).toBeUndefined();
  });

  it("counts a refusal in the signals and leaves the bucket alone (here: over the probation limit)", () => {
    const { decision, emptyAt, signals } = chargeClient(config, fresh(), "full", 5001, T0);
    expect(decision).toEqual({ ok: false, capped: true });
    expect(emptyAt).toBeUndefined();
    expect(signals).toMatchObject({ refusals: 1, lastAt: T0 });
  });

  it("refunds a charge, down to empty at most", () => {
    expect(refundCharge(config, "full", T0 + DELTA / 10, 1000, T0)).toBe(T0 + DELTA / 20);
    expect(refundCharge(config, "full", T0 + DELTA / 10, 2000, T0)).toBe(0);
  });

  it("sweeps only once buckets and signals have run out; keeps a flag with its signals, a block alone", () => {
    const signals = emptySignals(T0);
    const state = { emptyAt: { full: T0 + DELTA, incremental: 0 }, signals, flagged: false };
    expect(sweepClient(state, false, T0)).toEqual({ wakeAt: T0 + SIGNALS_RETENTION_MS });
    const later = T0 + SIGNALS_RETENTION_MS;
    expect(sweepClient(state, false, later)).toEqual({ drop: "everything" });
    expect(sweepClient(state, true, later)).toEqual({ drop: "buckets-and-signals" });
    expect(sweepClient({ ...state, flagged: true }, true, later)).toEqual({ drop: "buckets" });
  });
});
