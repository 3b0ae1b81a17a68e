// The order of a discovery request's steps (src/core/discovery-steps.ts): what each outcome leads to.

import { describe, expect, it } from "vitest";
import { type Charged, afterAdmission, afterCharge, beforeCharge } from "../../src/core/discovery-steps";

const charged = (fresh: boolean): Charged => ({ ok: true, emptyAt: 1, edge: false, flagged: false, fresh, judged: false, established: false });

describe("the steps of discovery", () => {
  it("refuse more than a full bucket without Retry-After, answer an empty request at once, else charge", () => {
    expect(beforeCharge(20_001, 20_000)).toEqual({ step: "refuse", retryAfterSeconds: null, refund: false });
    expect(beforeCharge(0, 20_000)).toEqual({ step: "answer-empty" });
    expect(beforeCharge(20_000, 20_000)).toEqual({ step: "charge" });
  });

  it("after the charge: refuse with its wait, or without one over a client's limit; admit a fresh client; else look up", () => {
    expect(afterCharge({ ok: false, retryAfterSeconds: 30 })).toEqual({ step: "refuse", retryAfterSeconds: 30, refund: false });
    expect(afterCharge({ ok: false, capped: true })).toEqual({ step: "refuse", retryAfterSeconds: null, refund: false });
    expect(afterCharge(charged(true))).toEqual({ step: "admit", charged: charged(true) });
    expect(afterCharge(charged(false))).toEqual({ step: "look-up", charged: charged(false) });
  });

  it("after the admission: a refusal gives the charge back and passes the network's wait on", () => {
    expect(afterAdmission(charged(true), { ok: false, retryAfterSeconds: 86_400 })).toEqual({ step: "refuse", retryAfterSeconds: 86_400, refund: true });
    expect(afterAdmission(charged(true), { ok: true })).toEqual({ step: "look-up", charged: charged(true) });
  });
});
