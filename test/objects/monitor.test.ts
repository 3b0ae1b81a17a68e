// A monitor object: isolates' tallies into per-minute series, totals and the norm; flagged clients,
// baseline alerts, retention. (The merge over MONITOR_SHARDS objects: test/core/telemetry.test.ts.)

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type SyncRecord, normOf } from "../../src/core/hit-ratio-norm";
import { emptyTally, tallyRefusal, tallySync } from "../../src/core/telemetry";
import { BASELINE_FACTOR, type Monitor, SERIES_DAYS } from "../../src/objects/monitor";
import { MINUTE_MS } from "../../src/core/time";

const T0 = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS + 400 * 24 * 60 * MINUTE_MS; // a fresh stretch of time
// One monitor per test: a fresh object of the same class.
const fresh = () => env.MONITOR.get(env.MONITOR.newUniqueId());
const sync = (kind: "full" | "incremental", identifiers: number, matches: number, flagged = false): SyncRecord => ({ kind, identifiers, matches, flagged });
const ONE: { index: number; of: number } = { index: 0, of: 1 };

/** Hands the monitor a tally of one sync, as an isolate would; answers the sync's norm sample. */
async function recordSync(monitor: DurableObjectStub<Monitor>, record: SyncRecord, now: number) {
  const tally = emptyTally(now);
  const sample = tallySync(tally, record, now);
  await monitor.absorb(tally, ONE, now);
  return { sample, norm: normOf(await monitor.normState(now), now) };
}

async function recordRefusal(monitor: DurableObjectStub<Monitor>, now: number) {
  const tally = emptyTally(now);
  tallyRefusal(tally, now);
  await monitor.absorb(tally, ONE, now);
}

describe("the monitor", () => {
  it("keeps per-minute series and running totals", async () => {
    const monitor = fresh();
    await recordSync(monitor, sync("full", 500, 200), T0 + 1_000);
    await recordSync(monitor, sync("incremental", 500, 3), T0 + 59_000);
    await recordRefusal(monitor, T0 + 59_500);
    await recordSync(monitor, sync("full", 100, 40), T0 + MINUTE_MS + 1);
    expect(await monitor.series(T0, T0 + 2 * MINUTE_MS)).toEqual([
      { at: T0, syncs: 2, full: 1, incremental: 1, identifiers: 1000, matches: 203, refusals: 1, flags: 0, revealed: 0 },
      { at: T0 + MINUTE_MS, syncs: 1, full: 1, incremental: 0, identifiers: 100, matches: 40, refusals: 0, flags: 0, revealed: 0 },
    ]);
    expect(await monitor.series(T0 + MINUTE_MS, T0 + 2 * MINUTE_MS)).toHaveLength(1);
    expect(await monitor.totals()).toEqual({ syncs: 3, full: 2, incremental: 1, identifiers: 1100, matches: 243, refusals: 1, flags: 0, revealed: 0 });
  });

  it("learns the norm from unflagged full syncs only, and answers each sync's sample", async () => {
    const monitor = fresh();
    for (let i = 0; i < 40; i++) await recordSync(monitor, sync("full", 1000, 600), T0 + i);
    const flaggedOne = await recordSync(monitor, sync("full", 20_000, 0, true), T0 + 50);
    expect(flaggedOne.sample).toBeNull();
    const incremental = await recordSync(monitor, sync("incremental", 1000, 0), T0 + 51);
    expect(incremental.sample).toBeNull();
    expect(incremental.norm.samples).toBeCloseTo(40, 3);
    expect(incremental.norm.hitRatio).toBeGreaterThan(0.55);
  });

  it("lists a flagged client, takes its samples out of the norm, and unlists it when cleared", async () => {
    const monitor = fresh();
    const { sample } = await recordSync(monitor, sync("full", 20_000, 0), T0);
    const reasons = [{ rule: "hit-ratio" as const, message: "m", value: 0, threshold: 0.1 }];
    await monitor.flag({ id: "abcd", subject: "s", flaggedAt: T0, reasons, samples: [sample!] }, ONE, T0);
    expect(await monitor.flaggedClients()).toEqual([{ id: "abcd", flaggedAt: T0, reasons }]);
    expect(normOf(await monitor.normState(T0), T0).samples).toBeCloseTo(0, 6);
    expect((await monitor.totals()).flags).toBe(1);
    expect((await monitor.alerts(10))[0]).toMatchObject({ type: "flag", detail: { subject: "s" } });
    await monitor.unflag("abcd");
    expect(await monitor.flaggedClients()).toEqual([]);
  });

  it("alerts once when a minute leaves its baseline, and again only after it came back", async () => {
    const monitor = fresh();
    // An hour of ordinary traffic: 20 syncs of 500 a minute.
    for (let m = 0; m < 60; m++) for (let i = 0; i < 2; i++) await recordSync(monitor, sync("full", 5000, 2000), T0 + m * MINUTE_MS + i);
    expect(await monitor.alerts(10)).toEqual([]);
    // A burst: 50 times the identifiers in minute 60, and in 61; back to normal in 62.
    for (const m of [60, 61]) for (let i = 0; i < 10; i++) await recordSync(monitor, sync("full", 50_000, 0), T0 + m * MINUTE_MS + i);
    await recordSync(monitor, sync("full", 5000, 2000), T0 + 62 * MINUTE_MS);
    await recordSync(monitor, sync("full", 5000, 2000), T0 + 63 * MINUTE_MS);
    const alerts = await monitor.alerts(10);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ type: "rate", detail: { series: "identifiers", minute: T0 + 60 * MINUTE_MS, value: 500_000 } });
    expect((alerts[0] as any).detail.limit).toBe(Math.max(100_000, BASELINE_FACTOR * 10_000));
  });

  it("keeps at least 30 days of minutes and drops older ones on its daily alarm", async () => {
    const monitor = fresh();
    const now = Date.now();
    await recordSync(monitor, sync("full", 10, 4), now - (SERIES_DAYS + 1) * 24 * 60 * MINUTE_MS);
    await recordSync(monitor, sync("full", 10, 4), now - 30 * 24 * 60 * MINUTE_MS);
    await recordSync(monitor, sync("full", 10, 4), now);
    expect(await runInDurableObject(monitor, (_, state) => state.storage.getAlarm())).not.toBeNull();
    await runDurableObjectAlarm(monitor);
    const kept = await monitor.series(0, now + MINUTE_MS);
    expect(kept.map((m) => m.at)).toEqual([now - 30 * 24 * 60 * MINUTE_MS, now].map((t) => Math.floor(t / MINUTE_MS) * MINUTE_MS));
  });

  it("starts an egress episode when a minute reveals more than its limit to unjudged clients, alerts, and ends it when calm", async () => {
    const monitor = fresh();
    const reveal = async (matches: number, at: number) => {
      const tally = emptyTally(at);
      tallySync(tally, sync("full", 20_000, matches), at, ["198.51.100.7"]);
      await monitor.absorb(tally, ONE, at);
    };
    await reveal(30_000, T0); // over the local floor of 20,000 a minute
    await reveal(0, T0 + MINUTE_MS); // the next minute: the last one is judged
    expect(await monitor.egress()).toEqual({ since: T0, calm: 0, limit: 20_000, hourLimit: 300_000 }); // the limits it started against, held
    expect((await monitor.alerts(10))[0]).toMatchObject({ type: "egress", detail: { episode: "started", revealed: 30_000, limit: 20_000, hourRevealed: 30_000, hourLimit: 300_000 } });
    for (let m = 2; m <= 11; m++) await reveal(0, T0 + m * MINUTE_MS); // ten calm minutes (EGRESS_CALM_MINUTES)
    expect(await monitor.egress()).toEqual({ since: null, calm: 0 });
    expect((await monitor.alerts(10))[0]).toMatchObject({ type: "egress", detail: { episode: "ended" } });
    expect((await monitor.totals()).revealed).toBe(30_000);
  });

  it("starts an egress episode when the last hour reveals more than its limit, though no minute does", async () => {
    const monitor = fresh();
    const reveal = async (matches: number, at: number) => {
      const tally = emptyTally(at);
      tallySync(tally, sync("full", 20_000, matches), at, []);
      await monitor.absorb(tally, ONE, at);
    };
    // 8,000 a minute: under the local minute floor (20,000), over the hour's (300,000) in the 38th minute.
    for (let m = 0; m < 40; m++) await reveal(8_000, T0 + m * MINUTE_MS);
    expect(await monitor.egress()).toMatchObject({ since: T0 + 37 * MINUTE_MS });
    expect((await monitor.alerts(10))[0]).toMatchObject({ type: "egress", detail: { episode: "started", revealed: 8_000, hourRevealed: 304_000, hourLimit: 300_000 } });
  });
});
