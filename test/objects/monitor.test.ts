// A monitor object: isolates' tallies into per-minute series, totals and the norm; flagged clients,
// baseline alerts, retention; closed minutes judged on object 0's alarm. (The merge over
// MONITOR_SHARDS objects: test/core/telemetry.test.ts.)

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { configOf } from "../../src/core/config";
import { type SyncRecord, normOf } from "../../src/core/hit-ratio-norm";
import { emptyTally, tallyRefusal, tallySync } from "../../src/core/telemetry";
import { BASELINE_FACTOR, JUDGE_MARGIN_MS, type Monitor, SERIES_DAYS, monitorShard } from "../../src/objects/monitor";
import { DAY_MS, MINUTE_MS } from "../../src/core/time";

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

  describe("on its alarm, with no later tally", () => {
    /** When a minute is closed for judging: its end, a hand-over and a margin. */
    const dueAfter = (minuteStart: number) => minuteStart + MINUTE_MS + configOf(env).monitorFlushMs + JUDGE_MARGIN_MS;
    const alarmOf = (m: DurableObjectStub<Monitor>) => runInDurableObject(m, (_, state) => state.storage.getAlarm());
    /** The alarm, run at `now` on the fake clock. */
    async function alarmAt(m: DurableObjectStub<Monitor>, now: number) {
      vi.setSystemTime(now);
      return runDurableObjectAlarm(m);
    }
    const revealing = (matches: number, at: number) => {
      const tally = emptyTally(at);
      tallySync(tally, sync("full", 20_000, matches), at, ["198.51.100.7"]);
      return tally;
    };

    it("judges a closed minute, starts the episode and alerts; then judges each minute and ends it when calm", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        const monitor = fresh();
        vi.setSystemTime(T0 + 5_000);
        await monitor.absorb(revealing(30_000, T0 + 5_000), ONE, T0 + 5_000); // over the local floor of 20,000
        const due = dueAfter(T0);
        expect(await alarmOf(monitor)).toBe(due);
        await alarmAt(monitor, due - 1); // a hand-over of the minute may still be on its way
        expect(await monitor.alerts(10)).toEqual([]);
        expect(await alarmOf(monitor)).toBe(due);
        expect(await alarmAt(monitor, due)).toBe(true);
        expect(await monitor.egress()).toEqual({ since: T0, calm: 0, limit: 20_000, hourLimit: 300_000 });
        expect(await monitor.alerts(10)).toMatchObject([{ at: T0 + MINUTE_MS, type: "egress", detail: { episode: "started", minute: T0, revealed: 30_000 } }]);
        // No traffic at all: a minute apart, ten calm minutes (EGRESS_CALM_MINUTES) end it.
        for (let m = 1; m <= configOf(env).egress.calmMinutes; m++) {
          expect(await alarmOf(monitor)).toBe(due + m * MINUTE_MS);
          await alarmAt(monitor, due + m * MINUTE_MS);
        }
        expect(await monitor.egress()).toEqual({ since: null, calm: 0 });
        expect((await monitor.alerts(10))[0]).toMatchObject({ type: "egress", detail: { episode: "ended", minute: T0 + 10 * MINUTE_MS } });
      } finally {
        vi.useRealTimers();
      }
    });

    it("raises a rate alert for the minute that shows it", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        const monitor = fresh();
        const start = T0 + 2 * DAY_MS;
        vi.setSystemTime(start);
        await recordSync(monitor, sync("full", 500, 200), start);
        const burst = start + 40 * MINUTE_MS; // past BASELINE_MIN_HISTORY
        vi.setSystemTime(burst);
        const tally = emptyTally(burst);
        for (let i = 0; i < 300; i++) tallyRefusal(tally, burst); // over the floor of 200
        await monitor.absorb(tally, ONE, burst);
        expect(await monitor.alerts(10)).toEqual([]);
        await alarmAt(monitor, dueAfter(burst));
        expect(await monitor.alerts(10)).toMatchObject([{ type: "rate", detail: { series: "refusals", minute: burst, value: 300 } }]);
      } finally {
        vi.useRealTimers();
      }
    });

    it("judges a minute whose tallies all went to another object: that object tells object 0", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      try {
        const of = 4;
        const start = T0 + 4 * DAY_MS;
        vi.setSystemTime(start + 5_000);
        await monitorShard(env, 2).absorb(revealing(30_000, start + 5_000), { index: 2, of }, start + 5_000);
        const zero = monitorShard(env, 0);
        expect(await alarmOf(zero)).toBe(dueAfter(start));
        expect(await alarmAt(zero, dueAfter(start))).toBe(true);
        expect(await zero.egress()).toMatchObject({ since: start });
        expect((await zero.alerts(10))[0]).toMatchObject({ at: start + MINUTE_MS, type: "egress", detail: { episode: "started", minute: start, revealed: 30_000 } });
      } finally {
        vi.useRealTimers();
      }
    });
  });
});
