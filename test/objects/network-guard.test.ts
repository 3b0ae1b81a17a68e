// The per-network registration allowance, exact, with an explicit clock.

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DAY_MS } from "../../src/core/time";

const T0 = Math.floor(Date.now() / 1000) * 1000 + 365 * DAY_MS; // alarms never fire during the test

describe("NetworkGuard", () => {
  it("allows GUARD_REGISTRATIONS_PER_HOUR registrations at once, then one every 3600/N seconds", async () => {
    const guard = env.NETWORK_GUARD.get(env.NETWORK_GUARD.idFromName(`203.0.113.${Math.floor(Math.random() * 250)}`));
    for (let i = 0; i < 10; i++) expect((await guard.register(T0)).ok).toBe(true);
    expect(await guard.register(T0)).toEqual({ ok: false, retryAfterSeconds: 360 });
    expect((await guard.register(T0 + 359_000)).ok).toBe(false);
    expect((await guard.register(T0 + 360_000)).ok).toBe(true);
  });

  it("keeps networks apart, even under 30 concurrent registrations", async () => {
    const [a, b] = ["198.51.100.1", "198.51.100.2"].map((n) => env.NETWORK_GUARD.get(env.NETWORK_GUARD.idFromName(`${n}-${Math.random()}`)));
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => a!.register(T0)));
    expect(outcomes.filter((o) => o.ok)).toHaveLength(10);
    expect((await b!.register(T0)).ok).toBe(true);
  });
});
