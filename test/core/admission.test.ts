// The network rule's decisions on a guard's state (src/core/admission.ts), with explicit clocks.

import { describe, expect, it } from "vitest";
import { type GuardState, admissionGuards, admitToNetwork, firstRefusal, throttleOf } from "../../src/core/admission";
import { DAY_MS } from "../../src/core/time";

const T0 = 1_800_000_000_000;

/** Admits `count` new clients at `now`, keeping the state as the guard object stores it. */
function admitMany(state: GuardState, perDay: number, count: number, now: number) {
  const verdicts = [];
  for (let i = 0; i < count; i++) {
    const { admission, newClients, throttledUntil } = admitToNetwork(state, perDay, now);
    state = { newClients: newClients ?? state.newClients, throttledUntil: throttledUntil ?? state.throttledUntil };
    verdicts.push(admission);
  }
  return { state, verdicts };
}

describe("the network rule", () => {
  it("admits perDay new clients at once, throttles the network for a day on the next, and says so once", () => {
    const { state, verdicts } = admitMany({ newClients: 0, throttledUntil: 0 }, 20, 22, T0);
    expect(verdicts.slice(0, 20).every((v) => v.ok)).toBe(true);
    expect(verdicts[20]).toEqual({ ok: false, retryAfterSeconds: DAY_MS / 1000, throttledNow: { accounts: 21 } });
    expect(verdicts[21]).toEqual({ ok: false, retryAfterSeconds: DAY_MS / 1000 }); // throttled, not throttling again
    expect(state.throttledUntil).toBe(T0 + DAY_MS);
    // Half a day later the bucket has room again, but the throttle still holds for the other half.
    expect(admitToNetwork(state, 20, T0 + DAY_MS / 2)).toEqual({ admission: { ok: false, retryAfterSeconds: DAY_MS / 2000 } });
    expect(admitToNetwork(state, 20, T0 + DAY_MS).admission).toEqual({ ok: true });
  });

  it("refuses a throttled network with the wait until the throttle ends, rounded up to a second", () => {
    expect(throttleOf(T0 + 1500, T0)).toEqual({ ok: false, retryAfterSeconds: 2 });
    expect(throttleOf(T0, T0)).toBeNull();
    expect(throttleOf(0, T0)).toBeNull();
  });

  it("asks the network's guard, and the ASN's when known; none with the guard off", () => {
    const config = { guard: true, networkAccountsPerDay: 20, asnAccountsPerDay: 2000 };
    expect(admissionGuards(config, "192.0.2.1", 64500)).toEqual([["192.0.2.1", 20], ["asn:64500", 2000]]);
    expect(admissionGuards(config, "192.0.2.1", undefined)).toEqual([["192.0.2.1", 20]]);
    expect(admissionGuards({ ...config, guard: false }, "192.0.2.1", 64500)).toEqual([]);
  });

  it("combines the guards' verdicts: the first refusal, else admitted", () => {
    const refused = { ok: false as const, retryAfterSeconds: 60 };
    expect(firstRefusal([{ ok: true }, refused])).toBe(refused);
    expect(firstRefusal([{ ok: true }, { ok: true }])).toEqual({ ok: true });
    expect(firstRefusal([])).toEqual({ ok: true });
  });
});
