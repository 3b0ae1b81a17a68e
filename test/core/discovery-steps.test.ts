// The order of a discovery request's steps (src/core/discovery-steps.ts): what each outcome leads to,
// step by step and through the sequence that the Worker and the simulation both run.

import { describe, expect, it } from "vitest";
import type { ChargeDecision } from "../../src/core/charge-policy";
import { type Charged, type DiscoveryPorts, type SyncPorts, afterCharge, beforeCharge, runDiscovery, runDiscoveryNow } from "../../src/core/discovery-steps";

const charged = (fresh: boolean): Charged => ({ ok: true, emptyAt: 1, edge: false, flagged: false, fresh, judged: false, established: false });

describe("the steps of discovery", () => {
  it("refuse more than a full bucket without Retry-After, answer an empty request at once, else charge", () => {
    expect(beforeCharge(20_001, 20_000)).toEqual({ step: "refuse", retryAfterSeconds: null });
    expect(beforeCharge(0, 20_000)).toEqual({ step: "answer-empty" });
    expect(beforeCharge(20_000, 20_000)).toEqual({ step: "charge" });
  });

  it("after the charge (a fresh client's admission included): refuse with its wait, or without one over a client's limit; else look up", () => {
    expect(afterCharge({ ok: false, retryAfterSeconds: 30 })).toEqual({ step: "refuse", retryAfterSeconds: 30 });
    expect(afterCharge({ ok: false, capped: true })).toEqual({ step: "refuse", retryAfterSeconds: null });
    expect(afterCharge(charged(true))).toEqual({ step: "look-up", charged: charged(true) });
    expect(afterCharge(charged(false))).toEqual({ step: "look-up", charged: charged(false) });
  });
});

/** Ports that answer as told and write down what was asked of them, in order. */
function recordingPorts(told: { charge?: ChargeDecision | "unauthenticated" | Error; lookUp?: Error | "fails-second" } = {}) {
  const trace: string[] = [];
  let lookUps = 0;
  const ports: SyncPorts<string, string> = {
    lookUp: () => {
      trace.push("look-up");
      lookUps++;
      if (told.lookUp instanceof Error || (told.lookUp === "fails-second" && lookUps === 2)) throw new Error("lookup down");
      return "answer";
    },
    charge: (fits, early) => {
      trace.push(`charge(fits=${fits}, early=${early?.answer ?? null})`);
      if (told.charge instanceof Error) throw told.charge;
      if (told.charge === "unauthenticated") return { authenticated: false };
      return { authenticated: true, charged: fits ? (told.charge ?? charged(false)) : null };
    },
    refund: () => void trace.push("refund"),
    observe: (c, answer) => (trace.push(`observe(${answer})`), "observed"),
  };
  return { trace, ports };
}

const request = (n: number, lookUpFirst = false) => ({ n, maxContacts: 20_000, lookUpFirst });

describe("the sequence of discovery (runDiscoveryNow)", () => {
  it("charges, looks up and observes a client that is not fresh, in that order", () => {
    const { trace, ports } = recordingPorts();
    expect(runDiscoveryNow(ports, request(100))).toEqual({ end: "answered", charged: charged(false), answer: "answer", observed: "observed" });
    expect(trace).toEqual(["charge(fits=true, early=null)", "look-up", "observe(answer)"]);
  });

  it("authenticates what never fits or is empty, and charges and looks up nothing", () => {
    for (const [n, end] of [
      [20_001, { end: "refused", retryAfterSeconds: null }],
      [0, { end: "answer-empty" }],
    ] as const) {
      const { trace, ports } = recordingPorts();
      expect(runDiscoveryNow(ports, request(n, true))).toEqual(end);
      expect(trace).toEqual(["charge(fits=false, early=null)"]);
    }
  });

  it("answers an unauthenticated client nothing, even what fits and was looked up first", () => {
    const strict = recordingPorts({ charge: "unauthenticated" });
    expect(runDiscoveryNow(strict.ports, request(20_001))).toEqual({ end: "unauthenticated" });
    const first = recordingPorts({ charge: "unauthenticated" });
    expect(runDiscoveryNow(first.ports, request(100, true))).toEqual({ end: "unauthenticated" });
    expect(first.trace).toEqual(["look-up", "charge(fits=true, early=answer)"]);
  });

  it("refuses a charge refused with its wait, before any lookup", () => {
    const { trace, ports } = recordingPorts({ charge: { ok: false, retryAfterSeconds: 30 } });
    expect(runDiscoveryNow(ports, request(100))).toEqual({ end: "refused", retryAfterSeconds: 30 });
    expect(trace).toEqual(["charge(fits=true, early=null)"]);
  });

  it("answers a fresh client as any other; refused by its network inside the charge, nothing is looked up or given back", () => {
    const admitted = recordingPorts({ charge: charged(true) });
    expect(runDiscoveryNow(admitted.ports, request(100))).toMatchObject({ end: "answered", charged: charged(true) });
    expect(admitted.trace).toEqual(["charge(fits=true, early=null)", "look-up", "observe(answer)"]);
    const refused = recordingPorts({ charge: { ok: false, retryAfterSeconds: 86_400 } });
    expect(runDiscoveryNow(refused.ports, request(100))).toEqual({ end: "refused", retryAfterSeconds: 86_400 });
    expect(refused.trace).toEqual(["charge(fits=true, early=null)"]);
  });

  it("gives the charge back when the lookup after it fails; a failed charge has nothing to give back", () => {
    const lookUp = recordingPorts({ lookUp: new Error("down") });
    expect(runDiscoveryNow(lookUp.ports, request(100))).toMatchObject({ end: "unavailable", failed: "look-up" });
    expect(lookUp.trace).toEqual(["charge(fits=true, early=null)", "look-up", "refund"]);
    const charge = recordingPorts({ charge: new Error("object down") });
    expect(runDiscoveryNow(charge.ports, request(100))).toMatchObject({ end: "unavailable", failed: "charge" });
    expect(charge.trace).toEqual(["charge(fits=true, early=null)"]);
  });

  it("looked up first: one lookup, before the charge that receives it; if it fails, nothing is charged", () => {
    const { trace, ports } = recordingPorts();
    expect(runDiscoveryNow(ports, request(100, true))).toMatchObject({ end: "answered", answer: "answer" });
    expect(trace).toEqual(["look-up", "charge(fits=true, early=answer)", "observe(answer)"]);
    const failed = recordingPorts({ lookUp: new Error("down") });
    expect(runDiscoveryNow(failed.ports, request(100, true))).toMatchObject({ end: "unavailable", failed: "look-up" });
    expect(failed.trace).toEqual(["look-up"]);
  });
});

describe("the same sequence on ports that answer with promises (runDiscovery)", () => {
  /** The recording ports, each answer (or failure) a promise. */
  const later = (ports: SyncPorts<string, string>): DiscoveryPorts<string, string> => ({
    lookUp: async () => ports.lookUp(),
    charge: async (fits, early) => ports.charge(fits, early),
    refund: async () => ports.refund(),
    observe: async (c, a) => ports.observe(c, a),
  });

  it("takes the same steps and ends the same way, a rejected promise as a failure", async () => {
    const cases = [
      { told: {}, req: request(100, true) },
      { told: { charge: { ok: false, retryAfterSeconds: 60 } as ChargeDecision }, req: request(100) },
      { told: { lookUp: "fails-second" as const }, req: request(100) },
      { told: { lookUp: new Error("down") }, req: request(100) },
      { told: { charge: new Error("object down") }, req: request(100) },
      { told: { charge: "unauthenticated" as const }, req: request(0) },
    ];
    for (const { told, req } of cases) {
      const now = recordingPorts(told);
      const awaited = recordingPorts(told);
      const expected = runDiscoveryNow(now.ports, req);
      const got = await runDiscovery(later(awaited.ports), req);
      expect(got.end).toBe(expected.end);
      expect(got).toEqual(expected);
      expect(awaited.trace).toEqual(now.trace);
    }
  });
});
